// face-api's whole chain on whole images: the reference for bench/judges/faceapi/pipeline.py.
// usage: node pipeline.js MODEL_DIR cpu|wasm OUT_DIR NAME=IMAGE.jpg ...
// Each image is decoded by jpeg-js (as crop.js decodes), its RGB pixels go to OUT_DIR/NAME.rgb (the Python side reads
// the exact same input), and one call
//   faceapi.detectAllFaces(image).withFaceLandmarks().withFaceExpressions().withAgeAndGender().withFaceDescriptors()
// (default SsdMobilenetv1Options, the full 68-point net) runs on it. OUT_DIR/NAME.{bin,json} (see dump.js) hold, per
// face, in face-api's order:
//   detections   [n, 5] float64: detection.box x, y, width, height (image pixels), detection.score
//   landmarks    [n, 68, 2] float64: landmarks.positions (image pixels)
//   aligned      [n, 4] float64: alignedRect.box (the landmarks' bounding box padded by 20 %)
//   dlib         [n, 4] float64: landmarks.align(null, {useDlibAlignment: true}), the descriptor's rect
//   crops        [n, 3, 4] float64: the rects face-api cuts (x, y, width, height), each as extractFaceTensors computes
//                it (forSize + clipAtImageBorders): the detection (landmark net), alignedRect (expression, age/gender),
//                the dlib rect (descriptor)
//   descriptor   [n, 128] float32
//   age          [n] float64; male [n] uint8 (gender === 'male'); gender_probability [n] float64
//   expressions  [n, 7] float64 in FACE_EXPRESSION_LABELS order
// OUT_DIR/pipeline_meta.json: {backend, images: {NAME: {shape, faces, ms}}}, ms the chain's wall time on that image
// (decoding, writing and model loading excluded; the first image also pays the backend's warm-up).
const fs = require('fs');
const path = require('path');
const jpeg = require('jpeg-js');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump } = require('./dump');
const { useBackend } = require('./crop');

const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

// The whole JPEG decoded with jpeg-js; raw RGB to OUT_DIR/NAME.rgb. Returns {input: int32 tensor3d, shape}.
function readImage(imagePath, outDir, name) {
  const raw = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: true });
  const rgb = new Uint8Array(raw.width * raw.height * 3);
  for (let i = 0; i < raw.width * raw.height; i++) {
    for (let d = 0; d < 3; d++) rgb[i * 3 + d] = raw.data[i * 4 + d];
  }
  fs.writeFileSync(path.join(outDir, `${name}.rgb`), rgb);
  const shape = [raw.height, raw.width, 3];
  return { input: tf.tensor3d(new Int32Array(rgb), shape, 'int32'), shape };
}

const rectOf = (b) => [b.x, b.y, b.width, b.height];

async function main() {
  const [modelDir, backend, outDir, ...specs] = process.argv.slice(2);
  if (!specs.length) throw new Error('usage: node pipeline.js MODEL_DIR cpu|wasm OUT_DIR NAME=IMAGE.jpg ...');
  await useBackend(backend);
  for (const net of ['ssdMobilenetv1', 'faceLandmark68Net', 'faceExpressionNet', 'ageGenderNet', 'faceRecognitionNet']) {
    await faceapi.nets[net].loadFromDisk(modelDir);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const meta = { backend: tf.getBackend(), images: {} };
  for (const spec of specs) {
    const [name, imagePath] = spec.split('=');
    const { input, shape } = readImage(imagePath, outDir, name);
    const [height, width] = shape;
    const start = process.hrtime.bigint();
    const faces = await faceapi.detectAllFaces(input).withFaceLandmarks().withFaceExpressions().withAgeAndGender()
      .withFaceDescriptors();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const n = faces.length;
    const rows = (f) => Float64Array.from(faces.flatMap(f));
    const dlibRects = faces.map((f) => f.landmarks.align(null, { useDlibAlignment: true }));
    const clip = (det) => rectOf((det instanceof faceapi.FaceDetection ? det.forSize(width, height).box : det)
      .clipAtImageBorders(width, height));
    writeDump(outDir, name, {
      detections: { values: rows((f) => [...rectOf(f.detection.box), f.detection.score]), shape: [n, 5] },
      landmarks: { values: rows((f) => f.landmarks.positions.flatMap((p) => [p.x, p.y])), shape: [n, 68, 2] },
      aligned: { values: rows((f) => rectOf(f.alignedRect.box)), shape: [n, 4] },
      dlib: { values: Float64Array.from(dlibRects.flatMap(rectOf)), shape: [n, 4] },
      crops: { values: rows((f, i) => [...clip(f.detection), ...clip(f.alignedRect), ...clip(dlibRects[i])]), shape: [n, 3, 4] },
      descriptor: { values: Float32Array.from(faces.flatMap((f) => Array.from(f.descriptor))), shape: [n, 128] },
      age: { values: rows((f) => [f.age]), shape: [n] },
      male: { values: Uint8Array.from(faces.map((f) => (f.gender === 'male' ? 1 : 0))), shape: [n] },
      gender_probability: { values: rows((f) => [f.genderProbability]), shape: [n] },
      expressions: { values: rows((f) => LABELS.map((l) => f.expressions[l])), shape: [n, 7] },
    });
    meta.images[name] = { shape, faces: n, ms };
    tf.dispose(input);
  }
  fs.writeFileSync(path.join(outDir, 'pipeline_meta.json'), JSON.stringify(meta));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
