"""face-api's trained networks (`@vladmandic/face-api@1.7.15`, npm, MIT) ported to our own torch modules.

    fetch       the pinned package's weights and demo images -> <cache>/weights/face-api-1.7.15 (`augen weights
                fetch face-api`); `faceapi_dir()` finds the verified folder
    tfjs        TF.js weight manifests + shards -> numpy arrays, as tfjs's `tf.io.decodeWeights` decodes them
    preprocess  face-api's input protocol for face crops (pad to square, TF legacy bilinear resize, mean, /255)
    nets        the shared blocks (TF 'same' padding, separable conv, dense blocks, feature extractors, loading by
                TF.js name) and the 7-class expression net
    landmarks   the 68-point landmark nets (full, tiny) and face-api's post-processing to crop pixels
    agegender   the age/gender net (TinyXception, 2 main blocks): age in years, gender probabilities [male, female]
    recognition the 128-d face descriptor (dlib ResNet-34 style, 150 px input; not L2-normalised)
    detector    the SSD MobileNetV1 face detector with face-api's decoding, NMS and mapping to image pixels
    tinydetector the tiny face detector (TinyYolov2, separable convs) with face-api's YOLO decoding, NMS and mapping
    pipeline    the whole chain (detect, landmarks, expressions, age/gender, descriptor) with face-api's crop rules
    judge       the `faceapi` judge kind: per image the best face's readings (expression_prob in AffectNet order, ...)
    node        face-api itself in Node (`tools/faceapi-node/`), the reference every port is checked against
    parity      the face judges' report on the shipped photos (`augen study faces`): detection, parity with
                face-api in Node, readings, posed expressions, hostile inputs

Parity with face-api in Node is what the tests check (tests/test_faceapi_*.py); docs/faceapi.md has the details.
"""
