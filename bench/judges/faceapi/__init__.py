"""face-api's trained networks (`@vladmandic/face-api@1.7.15`, npm, MIT) ported to our own torch modules.

    fetch       the pinned package's weights and demo images -> <cache>/weights/face-api-1.7.15 (`augen weights
                fetch face-api`); `faceapi_dir()` finds the verified folder
    tfjs        TF.js weight manifests + shards -> numpy arrays, as tfjs's `tf.io.decodeWeights` decodes them
    preprocess  face-api's input protocol for face crops (pad to square, TF legacy bilinear resize, mean, /255)
    nets        the networks as torch modules (so far: the 7-class expression net) and their shared blocks
    node        face-api itself in Node (`tools/faceapi-node/`), the reference every port is checked against

Parity with face-api in Node is what the tests check (tests/test_faceapi_*.py); docs/faceapi.md has the details.
"""
