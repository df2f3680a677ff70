// face-api's own SSD MobileNetV1 face detector on whole images: the reference for bench/judges/faceapi/detector.py.
// usage: node detect.js MODEL_DIR cpu|wasm MIN_CONFIDENCE REPEATS OUT_DIR NAME=IMAGE.jpg[@X,Y,W,H] ...
// Each image is decoded by jpeg-js (as crop.js decodes) and, with @X,Y,W,H, cut to that rect; its RGB pixels go to
// OUT_DIR/NAME.rgb, so the Python side reads the exact same input. One faceapi.detectAllFaces(image,
// new SsdMobilenetv1Options({minConfidence})) call per image; OUT_DIR/NAME.{bin,json} (see dump.js) hold:
//   input       the net's input, (toBatchTensor(512, false) / 127.5) - 1 as forwardInput computes it [1, 512, 512, 3]
//   encodings   the raw box encodings, the box predictors' concat inside that call [1, 5118, 1, 4]
//   logits      the raw class logits, the class predictors' concat inside that call [1, 5118, 3]
//   boxes       forwardInput's decoded boxes [5118, 4] (ymin, xmin, ymax, xmax, relative to the padded square)
//   scores      forwardInput's scores [5118] (sigmoid of class 1)
//   detections  detectAllFaces' result [n, 5] float64: box x, y, width, height (image pixels), score
// With REPEATS > 0, detectAllFaces is then timed REPEATS more times per image (the first call is the warm-up).
// OUT_DIR/detect_meta.json: {backend, min_confidence, images: {NAME: {shape, ms: [...]}}}.
// The concats are taken by wrapping the engine's runKernel (face-api's node-wasm bundle shares this tfjs instance):
// the arrays are face-api's own intermediate tensors, not a re-computation.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readImage } = require('./crop');

const ANCHORS = 5118;


// Records (as typed arrays) the outputs of the kernels that `want(name, output)` picks while it is installed.
function captureKernels(want) {
  const engine = tf.engine();
  const original = engine.runKernel;
  const captured = [];
  engine.runKernel = function runKernel(...args) {
    const out = original.apply(this, args);
    if (!Array.isArray(out) && want(args[0], out)) captured.push(fromTensor(out));
    return out;
  };
  return { captured, restore: () => { engine.runKernel = original; } };
}

async function main() {
  const [modelDir, backend, minConfidence, repeats, outDir, ...specs] = process.argv.slice(2);
  if (!specs.length) throw new Error('usage: node detect.js MODEL_DIR cpu|wasm MIN_CONFIDENCE REPEATS OUT_DIR NAME=IMAGE.jpg[@X,Y,W,H] ...');
  await useBackend(backend);
  const net = faceapi.nets.ssdMobilenetv1;
  await net.loadFromDisk(modelDir);
  fs.mkdirSync(outDir, { recursive: true });
  const options = new faceapi.SsdMobilenetv1Options({ minConfidence: Number(minConfidence) });

  // forwardInput's decoded boxes and scores, as locateFaces receives them (wrapped on the instance during the
  // recorded call only)
  const forwardInput = net.forwardInput.bind(net);
  let forwarded = null;
  const recordForward = (input) => {
    const result = forwardInput(input);
    forwarded = { boxes: fromTensor(result.boxes[0]), scores: fromTensor(result.scores[0]) };
    return result;
  };

  const meta = { backend: tf.getBackend(), min_confidence: options.minConfidence, images: {} };
  for (const spec of specs) {
    const [name, where] = spec.split('=');
    const [imagePath, rect] = where.split('@');
    const { input, shape } = readImage(imagePath, rect, outDir, name);
    const netInput = await faceapi.toNetInput(input);
    const normalized = tf.tidy(() => tf.sub(tf.div(tf.cast(netInput.toBatchTensor(512, false), 'float32'), 127.5), 1));

    const concats = captureKernels((kernel, out) => kernel === 'Concat' && out.shape[1] === ANCHORS);
    net.forwardInput = recordForward;
    let detections;
    try {
      detections = await faceapi.detectAllFaces(input, options);
    } finally {
      concats.restore();
      net.forwardInput = forwardInput;
    }
    const [encodings, logits] = concats.captured;
    if (concats.captured.length !== 2 || encodings.shape.length !== 4 || logits.shape[2] !== 3) {
      throw new Error(`expected the box and class concats, got shapes ${concats.captured.map((c) => c.shape)}`);
    }
    const rows = detections.flatMap((d) => [d.box.x, d.box.y, d.box.width, d.box.height, d.score]);
    writeDump(outDir, name, {
      input: fromTensor(normalized),
      encodings,
      logits,
      boxes: forwarded.boxes,
      scores: forwarded.scores,
      detections: { values: Float64Array.from(rows), shape: [detections.length, 5] },
    });

    const ms = [];
    for (let i = 0; i < Number(repeats); i++) {
      const start = process.hrtime.bigint();
      await faceapi.detectAllFaces(input, options);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    meta.images[name] = { shape, ms };
    tf.dispose([input, normalized]);
  }
  fs.writeFileSync(path.join(outDir, 'detect_meta.json'), JSON.stringify(meta));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
