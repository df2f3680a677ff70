// face-api's own face recognition net on one face crop: the reference for bench/judges/faceapi/recognition.py.
// usage: node recognition.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR
// The crop (crop.js) goes to OUT_DIR/crop.rgb. OUT_DIR/recognition.{bin,json} (see dump.js) hold: input150
// (toBatchTensor(150, true): pad + legacy bilinear), normalized (the net's input, NHWC, as forwardInput computes it),
// forward (forwardInput's [1, 128] output) and descriptor (computeFaceDescriptor(crop), the Float32Array a caller gets).
// OUT_DIR/recognition_meta.json: {backend, crop_shape}.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readCrop } = require('./crop');

async function main() {
  const [modelDir, imagePath, rect, backend, outDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: node recognition.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR');
  await useBackend(backend);
  const net = faceapi.nets.faceRecognitionNet;
  await net.loadFromDisk(modelDir);

  const { input, shape } = readCrop(imagePath, rect, outDir);
  const netInput = await faceapi.toNetInput(input);
  const input150 = tf.cast(netInput.toBatchTensor(150, true), 'float32');
  const descriptor = await net.computeFaceDescriptor(input);
  const arrays = {
    input150: fromTensor(input150),
    normalized: fromTensor(faceapi.normalize(input150, [122.782, 117.001, 104.298]).div(255)),
    forward: fromTensor(net.forwardInput(netInput)),
    descriptor: { values: descriptor, shape: [descriptor.length] },
  };
  writeDump(outDir, 'recognition', arrays);
  fs.writeFileSync(path.join(outDir, 'recognition_meta.json'), JSON.stringify({ backend: tf.getBackend(), crop_shape: shape }));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
