// face-api's own 68-point landmark nets (full and tiny) on one face crop: the reference for
// bench/judges/faceapi/landmarks.py.
// usage: node landmarks.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR
// The crop (crop.js) goes to OUT_DIR/crop.rgb. OUT_DIR/landmarks.{bin,json} (see dump.js) hold, for NET = full and tiny:
// NET_features (the feature extractor's output), NET_raw (runNet: the fc's 136 outputs, relative to the padded 112
// square), NET_relative (forwardInput: postProcess'ed, relative to the crop) and NET_positions (detectLandmarks(crop)
// .positions: [68, 2] crop pixels, float64). OUT_DIR/landmarks_meta.json: {backend, crop_shape}.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const { writeDump, fromTensor } = require('./dump');
const { useBackend, readCrop } = require('./crop');

async function main() {
  const [modelDir, imagePath, rect, backend, outDir] = process.argv.slice(2);
  if (!outDir) throw new Error('usage: node landmarks.js MODEL_DIR IMAGE.jpg X,Y,W,H cpu|wasm OUT_DIR');
  await useBackend(backend);
  const nets = { full: faceapi.nets.faceLandmark68Net, tiny: faceapi.nets.faceLandmark68TinyNet };
  for (const net of Object.values(nets)) await net.loadFromDisk(modelDir);

  const { input, shape } = readCrop(imagePath, rect, outDir);
  const netInput = await faceapi.toNetInput(input);
  const arrays = {};
  for (const [name, net] of Object.entries(nets)) {
    arrays[`${name}_features`] = fromTensor(net.faceFeatureExtractor.forwardInput(netInput));
    arrays[`${name}_raw`] = fromTensor(net.runNet(netInput));
    arrays[`${name}_relative`] = fromTensor(net.forwardInput(netInput));
    const { positions } = await net.detectLandmarks(input);
    arrays[`${name}_positions`] = { values: Float64Array.from(positions.flatMap((p) => [p.x, p.y])), shape: [positions.length, 2] };
  }
  writeDump(outDir, 'landmarks', arrays);
  fs.writeFileSync(path.join(outDir, 'landmarks_meta.json'), JSON.stringify({ backend: tf.getBackend(), crop_shape: shape }));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
