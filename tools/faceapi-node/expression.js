// face-api's own expression net on one face crop: the reference for bench/judges/faceapi (preprocess.py, nets.py).
// usage: node expression.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR
// The crop (crop.js: jpeg-js pixels, the rect as tf.slice3d cuts it) goes to OUT_DIR/crop.rgb, so the Python side reads
// the exact same input. OUT_DIR/expression.{bin,json} (see dump.js) hold: input112 (toBatchTensor(112, true): pad +
// legacy bilinear), normalized (the net's input, NHWC), features (feature extractor output), logits (fc), probabilities
// (softmax) and resize_HxW (tf.image.resizeBilinear of the crop, alignCorners=false, halfPixelCenters=false).
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readCrop } = require('./crop');

const RESIZES = [[112, 112], [150, 150], [512, 512], [37, 53], [301, 7]]; // down, up, odd ratios

async function main() {
  const [modelDir, imagePath, rect, backend, outDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: node expression.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR');
  await useBackend(backend);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);

  const { input, shape: [h, w] } = readCrop(imagePath, rect, outDir);

  const net = faceapi.nets.faceExpressionNet;
  const netInput = await faceapi.toNetInput(input);
  const input112 = netInput.toBatchTensor(112, true);
  const normalized = faceapi.normalize(input112, [122.782, 117.001, 104.298]).div(255);
  const arrays = {
    input112: fromTensor(input112),
    normalized: fromTensor(normalized),
    features: fromTensor(net.faceFeatureExtractor.forwardInput(netInput)),
    logits: fromTensor(net.runNet(netInput)),
    probabilities: fromTensor(await net.forward(input)),
  };
  const asFloat = tf.cast(tf.expandDims(input), 'float32');
  for (const [rh, rw] of RESIZES) arrays[`resize_${rh}x${rw}`] = fromTensor(tf.image.resizeBilinear(asFloat, [rh, rw], false, false));
  const labelled = await net.predictExpressions(input); // {neutral: p, happy: p, ...}: checks the class order
  writeDump(outDir, 'expression', arrays);
  fs.writeFileSync(path.join(outDir, 'expression_labels.json'), JSON.stringify({ labels: Object.keys(labelled), backend: tf.getBackend(), crop_shape: [h, w, 3] }));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
