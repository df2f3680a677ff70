"""MAUGen reference: joint face-image + AU-label generation (see pipeline_maugen.py).

Published variant (the authors' code, default): `PublishedMRL` (identity.py) + `PublishedDIGHead` (dig.py).
v1 variant (the committed tiny checkpoint): `MultimodalRepresentation` + `DIGLabelHead` (modules.py).
"""

from reference.maugen.dig import PublishedDIGHead
from reference.maugen.identity import PublishedMRL
from reference.maugen.modules import DIGLabelHead, MultimodalRepresentation
from reference.maugen.pipeline_maugen import MAUGenPipeline, MAUGenPipelineOutput

__all__ = ["DIGLabelHead", "MAUGenPipeline", "MAUGenPipelineOutput", "MultimodalRepresentation", "PublishedDIGHead",
           "PublishedMRL"]
