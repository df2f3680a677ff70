// Arrays out of Node for the Python side: <dir>/<name>.bin holds the raw little-endian values back to back,
// <dir>/<name>.json maps each key to {dtype, shape, offset, nbytes} (read by bench/judges/faceapi/node.py:read_dump).
const fs = require('fs');
const path = require('path');

const DTYPES = { Float64Array: 'float64', Float32Array: 'float32', Int32Array: 'int32', Uint8Array: 'uint8' };

// arrays: {key: {values: TypedArray, shape: number[], dtype?: 'bool' (a Uint8Array read as bool)}}
function writeDump(dir, name, arrays) {
  fs.mkdirSync(dir, { recursive: true });
  const index = {};
  const chunks = [];
  let offset = 0;
  for (const [key, { values, shape, dtype: tfDtype }] of Object.entries(arrays)) {
    const dtype = tfDtype === 'bool' ? 'bool' : DTYPES[values.constructor.name];
    if (!dtype) throw new Error(`${key}: cannot dump a ${values.constructor.name}`);
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    index[key] = { dtype, shape, offset, nbytes: bytes.length };
    chunks.push(bytes);
    offset += bytes.length;
  }
  fs.writeFileSync(path.join(dir, `${name}.bin`), Buffer.concat(chunks));
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(index));
}

// a tf.Tensor -> the {values, shape} writeDump takes
const fromTensor = (t) => ({ values: t.dataSync(), shape: t.shape, dtype: t.dtype });

module.exports = { writeDump, fromTensor };
