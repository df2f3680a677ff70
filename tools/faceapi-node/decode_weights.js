// Decode TF.js weight manifests with tfjs's own tf.io.decodeWeights (the reference for bench/judges/faceapi/tfjs.py).
// usage: node decode_weights.js OUT_DIR MANIFEST.json [MANIFEST.json ...]
// writes OUT_DIR/<manifest file name without .json>.{bin,json} (see dump.js); shards are read beside each manifest.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { writeDump, fromTensor } = require('./dump');

async function main() {
  const [outDir, ...manifests] = process.argv.slice(2);
  if (!outDir || manifests.length === 0) throw new Error('usage: node decode_weights.js OUT_DIR MANIFEST.json ...');
  await tf.setBackend('cpu');
  for (const file of manifests) {
    const groups = JSON.parse(fs.readFileSync(file, 'utf8'));
    const arrays = {};
    for (const group of groups) {
      const buf = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(path.dirname(file), p))));
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
      const decoded = tf.io.decodeWeights(ab, group.weights);
      for (const spec of group.weights) arrays[spec.name] = fromTensor(decoded[spec.name]);
    }
    writeDump(outDir, path.basename(file, '.json'), arrays);
  }
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
