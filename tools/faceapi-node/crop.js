// Shared by the per-net reference scripts: the tfjs backend, and a face crop out of a JPEG as face-api sees it.
const fs = require('fs');
const path = require('path');
const jpeg = require('jpeg-js');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

// backend: 'cpu' (pure JS) or 'wasm' (the SIMD kernels, loaded from node_modules, never from a CDN)
async function useBackend(backend) {
  if (backend === 'wasm') wasm.setWasmPaths(path.join(__dirname, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + path.sep);
  await tf.setBackend(backend);
  await tf.ready();
}

// The JPEG decoded with jpeg-js and cropped to rect 'X,Y,W,H' (as tf.slice3d crops an int32 image tensor in face-api).
// The crop's raw RGB pixels go to OUT_DIR/crop.rgb, so the Python side reads the exact same input.
// Returns {input: int32 tensor3d [h, w, 3], shape: [h, w, 3]}.
function readCrop(imagePath, rect, outDir) {
  const raw = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: true });
  const [x, y, w, h] = rect.split(',').map(Number);
  if (!(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= raw.width && y + h <= raw.height)) throw new Error(`bad rect ${rect}`);
  const crop = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      for (let d = 0; d < 3; d++) crop[(r * w + c) * 3 + d] = raw.data[((y + r) * raw.width + (x + c)) * 4 + d];
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'crop.rgb'), crop);
  return { input: tf.tensor3d(new Int32Array(crop), [h, w, 3], 'int32'), shape: [h, w, 3] };
}

// A whole image for the detector scripts: the JPEG decoded with jpeg-js, optionally cut to rect 'X,Y,W,H', or
// 'flat:W,H,V' (a W x H image of value V); its raw RGB goes to OUT_DIR/NAME.rgb.
// Returns {input: int32 tensor3d [h, w, 3], shape: [h, w, 3]}.
function readImage(imagePath, rect, outDir, name) {
  if (imagePath.startsWith('flat:')) {
    const [w, h, v] = imagePath.slice(5).split(',').map(Number);
    const rgb = new Uint8Array(w * h * 3).fill(v);
    fs.writeFileSync(path.join(outDir, `${name}.rgb`), rgb);
    return { input: tf.tensor3d(new Int32Array(rgb), [h, w, 3], 'int32'), shape: [h, w, 3] };
  }
  const raw = jpeg.decode(fs.readFileSync(imagePath), { useTArray: true, formatAsRGBA: true });
  const [x, y, w, h] = rect ? rect.split(',').map(Number) : [0, 0, raw.width, raw.height];
  if (!(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= raw.width && y + h <= raw.height)) throw new Error(`bad rect ${rect}`);
  const rgb = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      for (let d = 0; d < 3; d++) rgb[(r * w + c) * 3 + d] = raw.data[((y + r) * raw.width + (x + c)) * 4 + d];
    }
  }
  fs.writeFileSync(path.join(outDir, `${name}.rgb`), rgb);
  return { input: tf.tensor3d(new Int32Array(rgb), [h, w, 3], 'int32'), shape: [h, w, 3] };
}

module.exports = { useBackend, readCrop, readImage };
