// face-api's own age/gender net on one face crop: the reference for bench/judges/faceapi/agegender.py.
// usage: node agegender.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR
// The crop (crop.js) goes to OUT_DIR/crop.rgb. OUT_DIR/agegender.{bin,json} (see dump.js) hold: features (TinyXception's
// output, NHWC [1, 7, 7, 512]), age (runNet's fc/age, [1]), gender_logits (runNet's fc/gender, [1, 2]) and
// gender_probabilities (forwardInput: the softmax). OUT_DIR/agegender_meta.json: {backend, crop_shape, prediction}, the
// last being predictAgeAndGender(crop): {age, gender: 'male'|'female', genderProbability}.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readCrop } = require('./crop');

async function main() {
  const [modelDir, imagePath, rect, backend, outDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: node agegender.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR');
  await useBackend(backend);
  const net = faceapi.nets.ageGenderNet;
  await net.loadFromDisk(modelDir);

  const { input, shape } = readCrop(imagePath, rect, outDir);
  const netInput = await faceapi.toNetInput(input);
  const { age, gender } = net.runNet(netInput);
  const arrays = {
    features: fromTensor(net.faceFeatureExtractor.forwardInput(netInput)),
    age: fromTensor(age),
    gender_logits: fromTensor(gender),
    gender_probabilities: fromTensor(net.forwardInput(netInput).gender),
  };
  const prediction = await net.predictAgeAndGender(input);
  writeDump(outDir, 'agegender', arrays);
  fs.writeFileSync(path.join(outDir, 'agegender_meta.json'), JSON.stringify({ backend: tf.getBackend(), crop_shape: shape, prediction }));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
