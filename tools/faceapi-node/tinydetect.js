// face-api's own tiny face detector on whole images: the reference for bench/judges/faceapi/tinydetector.py.
// usage: node tinydetect.js MODEL_DIR cpu|wasm INPUT_SIZE SCORE_THRESHOLD OUT_DIR NAME=IMAGE.jpg[@X,Y,W,H]|NAME=flat:W,H,V ...
// Each image is decoded by jpeg-js (as detect.js does) and, with @X,Y,W,H, cut to that rect (flat:W,H,V: a W x H
// image of the one value V in every channel); its RGB pixels go to OUT_DIR/NAME.rgb. One faceapi.detectAllFaces(image, new TinyFaceDetectorOptions({inputSize, scoreThreshold})) call
// per image; OUT_DIR/NAME.{bin,json} (see dump.js) hold:
//   input       the net's input, (toBatchTensor(inputSize, false) - MEAN_RGB) / 255 [1, S, S, 3]
//   grid        the raw output forwardInput returned inside that call [1, S/32, S/32, 25]
//   candidates  extractBoxes' result inside that call [n, 8] float64: box x, y, width, height (relative), score,
//               row, col, anchor (before NMS)
//   detections  detectAllFaces' result [n, 5] float64: box x, y, width, height (image pixels), score
// OUT_DIR/tinydetect_meta.json: {backend, input_size, score_threshold, images: {NAME: {shape}}}.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readImage } = require('./crop');

const MEAN_RGB = [117.001, 114.697, 97.404]; // tinyFaceDetector/const.ts


async function main() {
  const [modelDir, backend, inputSize, scoreThreshold, outDir, ...specs] = process.argv.slice(2);
  if (!specs.length) throw new Error('usage: node tinydetect.js MODEL_DIR cpu|wasm INPUT_SIZE SCORE_THRESHOLD OUT_DIR NAME=IMAGE.jpg[@X,Y,W,H]|NAME=flat:W,H,V ...');
  await useBackend(backend);
  const net = faceapi.nets.tinyFaceDetector;
  await net.loadFromDisk(modelDir);
  fs.mkdirSync(outDir, { recursive: true });
  const options = new faceapi.TinyFaceDetectorOptions({ inputSize: Number(inputSize), scoreThreshold: Number(scoreThreshold) });

  // forwardInput's raw grid and extractBoxes' candidates, wrapped on the instance during the recorded call only
  const forwardInput = net.forwardInput.bind(net);
  const extractBoxes = net.extractBoxes.bind(net);
  let grid = null;
  let candidates = null;
  const recordForward = (input, size) => {
    const out = forwardInput(input, size);
    grid = fromTensor(out);
    return out;
  };
  const recordExtract = async (...args) => {
    const results = await extractBoxes(...args);
    candidates = results.flatMap((r) => [r.box.x, r.box.y, r.box.width, r.box.height, r.score, r.row, r.col, r.anchor]);
    candidates = { values: Float64Array.from(candidates), shape: [results.length, 8] };
    return results;
  };

  const meta = { backend: tf.getBackend(), input_size: options.inputSize, score_threshold: options.scoreThreshold, images: {} };
  for (const spec of specs) {
    const [name, where] = spec.split('=');
    const [imagePath, rect] = where.split('@');
    const { input, shape } = readImage(imagePath, rect, outDir, name);
    const netInput = await faceapi.toNetInput(input);
    const normalized = tf.tidy(() => tf.div(tf.sub(tf.cast(netInput.toBatchTensor(options.inputSize, false), 'float32'),
      tf.tensor1d(MEAN_RGB, 'float32')), 255));

    net.forwardInput = recordForward;
    net.extractBoxes = recordExtract;
    let detections;
    try {
      detections = await faceapi.detectAllFaces(input, options);
    } finally {
      net.forwardInput = forwardInput;
      net.extractBoxes = extractBoxes;
    }
    const rows = detections.flatMap((d) => [d.box.x, d.box.y, d.box.width, d.box.height, d.score]);
    writeDump(outDir, name, {
      input: fromTensor(normalized),
      grid,
      candidates,
      detections: { values: Float64Array.from(rows), shape: [detections.length, 5] },
    });
    meta.images[name] = { shape };
    tf.dispose([input, normalized]);
  }
  fs.writeFileSync(path.join(outDir, 'tinydetect_meta.json'), JSON.stringify(meta));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
