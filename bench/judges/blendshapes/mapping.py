"""ARKit blendshapes -> FACS AUs: the one table the blendshapes reader maps MediaPipe's 52 scores through.

MediaPipe's Face Landmarker outputs 52 blendshape coefficients in [0, 1], named as Apple's ARKit names them
(`BLENDSHAPE_NAMES`, MediaPipe's order; `_neutral` first). They are animation controls, not FACS codes: the table
below says which AU each one stands for (after the usual ARKit-to-FACS correspondence, one coefficient per muscle
action and side), and the reader turns them into the project's AU arrays (bench.data.aus.AUS):

    pair rule    an AU read from a left/right pair takes the MAX of the two sides (FACS scores an AU as occurring
                 when it shows on either side: a unilateral AU12 of contempt is still AU12); an AU read from one
                 coefficient takes it as it is
    occurrence   `au_prob` holds that coefficient, unchanged: a PROXY of occurrence probability, not calibrated to
                 any FACS-coded data; scoring reads it as present at >= 0.5 (bench.scoring.alignment.judge_occurrence)
                 and au_auc ranks by it
    intensity    `au_intensity` is NaN everywhere: no data we hold ties a coefficient to the 0-5 FACS scale, so no
                 intensity is claimed (au_icc, au_pearson, au_mae say n/a)
    unreadable   NaN in both arrays: AU23 (no blendshape stands for lip tightening), and AU5, AU6, AU9, whose only
                 coefficients (`DEAD`) never rise on this model (docs/au-reader.md: max 0.08, 1.2e-5 and 4.1e-5
                 over the 32 shipped faces it found; upstream: google-ai-edge/mediapipe#4450), so reading them
                 would report "absent" on every face
    no face      NaN in both arrays for a row where MediaPipe found no face

`VALIDATED_AUS` are the AUs the board's gate may read (a faces protocol's `au_gate` must equal it; a test checks): the
AUs `augen study aureader` validates on real pixels (reports/au-reader/report.md): AU12 only.
"""

from __future__ import annotations

import numpy as np

from bench.data.aus import AU_INDEX, AUS, N_AUS

#: MediaPipe's 52 blendshape names in its output order (mediapipe.tasks.python.vision.face_landmarker.Blendshapes;
#: a test checks the runtime returns exactly these).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight")
N_BLENDSHAPES = len(BLENDSHAPE_NAMES)

#: THE table: FACS AU -> the blendshapes it is read from (a left/right pair, or one) and how direct the match is.
#: AU16 (lower lip depressor) is not among the project's 17 AUs: its row documents where mouthLowerDown goes.
AU_TABLE: dict[int, tuple[tuple[str, ...], str]] = {
    1: (("browInnerUp",), "direct: inner brow raiser"),
    2: (("browOuterUpLeft", "browOuterUpRight"), "direct: outer brow raiser"),
    4: (("browDownLeft", "browDownRight"), "direct: brow lowerer"),
    5: (("eyeWideLeft", "eyeWideRight"), "upper lid raiser; dead on this model"),
    6: (("cheekSquintLeft", "cheekSquintRight"), "cheek raiser; dead on this model"),
    7: (("eyeSquintLeft", "eyeSquintRight"), "lid tightener; ARKit's squint also rises with AU6 in smiles"),
    9: (("noseSneerLeft", "noseSneerRight"), "nose wrinkler; dead on this model"),
    10: (("mouthUpperUpLeft", "mouthUpperUpRight"), "upper lip raiser; also rises in broad smiles"),
    12: (("mouthSmileLeft", "mouthSmileRight"), "direct: lip corner puller"),
    14: (("mouthDimpleLeft", "mouthDimpleRight"), "dimpler"),
    15: (("mouthFrownLeft", "mouthFrownRight"), "lip corner depressor"),
    16: (("mouthLowerDownLeft", "mouthLowerDownRight"), "lower lip depressor; AU16 is not among the 17 AUs"),
    17: (("mouthShrugLower",), "chin raiser (ARKit: lower lip pushed up)"),
    20: (("mouthStretchLeft", "mouthStretchRight"), "lip stretcher"),
    24: (("mouthPressLeft", "mouthPressRight"), "lip presser"),
    25: (("jawOpen",), "lips part, read as jaw opening: the same column as AU26; lips parted with the jaw closed "
                      "(a smile showing teeth) read absent"),
    26: (("jawOpen",), "direct: jaw drop"),
}
#: Blendshapes that never rise on this model (upstream google-ai-edge/mediapipe#4450 reports eyeWide and noseSneer
#: near 0; cheekSquint is 0 on every shipped face): the AUs read only from them are not read.
DEAD: frozenset[str] = frozenset({"eyeWideLeft", "eyeWideRight", "cheekSquintLeft", "cheekSquintRight",
                                  "noseSneerLeft", "noseSneerRight"})
#: The other blendshapes, with why no AU is read from them.
UNMAPPED: dict[str, str] = {
    "_neutral": "no action (MediaPipe's neutral coefficient)",
    "cheekPuff": "cheek puff is not a FACS action unit of the 17 (AD 34); near 0 on this model (mediapipe#4436)",
    **{f"eyeBlink{s}": "eye closure (AU43/45), not among the 17" for s in ("Left", "Right")},
    **{f"eyeLook{d}{s}": "gaze (AU61-64), not among the 17" for d in ("Down", "In", "Out", "Up")
       for s in ("Left", "Right")},
    "jawForward": "jaw thrust (AD29), not among the 17",
    "jawLeft": "jaw sideways (AD30), not among the 17",
    "jawRight": "jaw sideways (AD30), not among the 17",
    "mouthClose": "lips closed with the jaw open (ARKit's corrective shape), no AU of its own",
    "mouthFunnel": "lip funneler (AU22), not among the 17",
    "mouthPucker": "lip pucker (AU18), not among the 17",
    "mouthLeft": "mouth sideways, no AU of the 17",
    "mouthRight": "mouth sideways, no AU of the 17",
    "mouthRollLower": "lip suck (AU28), not among the 17",
    "mouthRollUpper": "lip suck (AU28), not among the 17",
    "mouthShrugUpper": "upper lip pushed up with the chin raiser; AU17 is read from mouthShrugLower",
}
#: Pair rule: the AU's value is the max of its blendshapes (see the module docstring).
PAIR_RULE = "max"

#: The project's AUs the table reads (those with a row whose blendshapes are not all dead).
READABLE_AUS: tuple[int, ...] = tuple(a for a in AUS if a in AU_TABLE and not set(AU_TABLE[a][0]) <= DEAD)
#: The project's AUs it cannot read: AU23 (no blendshape) and the AUs of dead blendshapes (AU5, AU6, AU9).
UNREADABLE_AUS: tuple[int, ...] = tuple(a for a in AUS if a not in READABLE_AUS)
#: The AUs the board's gate may read (faces protocols' `au_gate`), as `augen study aureader` validates them
#: (reports/au-reader/report.md; a test checks this equals the filed study's list): read, found on a posed photograph
#: whose EMFACS prototype holds it, and telling face-api's expression calls apart beyond chance over enough faces.
#: Only AU12 passes on the shipped photographs; AU1/AU2/AU4 read under 0.5 on the posed brows, AU26 has one linked face.
VALIDATED_AUS: tuple[int, ...] = (12,)

_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
#: (AU column in bench.data.aus.AUS, blendshape columns) for every readable AU
_READ = tuple((AU_INDEX[a], tuple(_INDEX[b] for b in AU_TABLE[a][0])) for a in READABLE_AUS)


def au_readings(blendshapes: np.ndarray) -> dict[str, np.ndarray]:
    """(n, 52) blendshape scores (NaN rows: no face) -> {'au_intensity': (n, 17) NaN, 'au_prob': (n, 17)} over
    bench.data.aus.AUS, the shape of bench.judges.external's readings: each readable AU the max of its blendshapes,
    every other column NaN."""
    scores = np.asarray(blendshapes, dtype=np.float32)
    if scores.ndim != 2 or scores.shape[1] != N_BLENDSHAPES:
        raise ValueError(f"au_readings: expected (n, {N_BLENDSHAPES}) blendshape scores, got {scores.shape}")
    prob = np.full((len(scores), N_AUS), np.nan, np.float32)
    for col, cols in _READ:
        prob[:, col] = scores[:, list(cols)].max(1)  # NaN rows (no face) stay NaN
    return {"au_intensity": np.full_like(prob, np.nan), "au_prob": prob}
