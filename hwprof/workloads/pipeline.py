"""A real input pipeline for the image workloads: JPEG decoding and augmentation on the CPU.

With ``data="pipeline"`` an image workload reads every batch from a ``tf.data`` pipeline instead
of a fixed tensor on the device, so the classic case, a device starved by its input, can be
produced and seen. At build, a seeded set of distinct images (smooth shapes plus noise, so they
compress like photographs rather than static) of ``effective_source_size`` pixels is encoded as
JPEG once; each step then decodes ``batch`` of them, crops each at random to the workload's side,
flips at random and converts to float, as a training input pipeline does.

The step calls ``next(iterator)`` inside its ``tf.function``, so the profiler sees the wait as the
consumer's ``IteratorGetNext`` (see :mod:`hwprof.core.trace`).
"""

from __future__ import annotations

from typing import Any

from hwprof.core.spec import RunSpec

# Distinct source images: enough that a batch is not one image repeated, few enough to encode
# quickly at build (64 JPEGs of 448 x 448: about 0.3 s)
SOURCE_IMAGES = 64
JPEG_QUALITY = 90
# The smooth part of a source image is noise of this side, resized up: shapes that JPEG
# compresses the way it compresses photographs
SMOOTH_SIDE = 8


def source_jpegs(tf: Any, spec: RunSpec) -> Any:
    """The seeded source images as a 1-D string tensor of JPEG files."""
    src = spec.effective_source_size
    gen = tf.random.Generator.from_seed(spec.seed + 1)
    files = []
    for _ in range(SOURCE_IMAGES):  # one at a time: 64 float images of 2048 px would be 3 GiB
        smooth = tf.image.resize(gen.uniform((SMOOTH_SIDE, SMOOTH_SIDE, 3), 0, 255), (src, src))
        noisy = smooth + gen.normal(smooth.shape, stddev=12.0)
        pixels = tf.cast(tf.clip_by_value(noisy, 0, 255), tf.uint8)
        files.append(tf.io.encode_jpeg(pixels, quality=JPEG_QUALITY))
    return tf.stack(files)


def make_dataset(tf: Any, spec: RunSpec, classes: int) -> Any:
    """Batches of (float images in [0, 1], int32 labels), decoded and augmented per step.

    Built on the CPU whatever device the step runs on (the caller may have opened a GPU's
    scope): an input pipeline's work is the host's, and the step copies each batch over.
    """
    with tf.device("/CPU:0"):
        return _dataset(tf, spec, classes)


def _dataset(tf: Any, spec: RunSpec, classes: int) -> Any:
    side, batch = spec.effective_size, spec.effective_batch_size
    threads = spec.pipeline_threads or tf.data.AUTOTUNE
    jpegs = source_jpegs(tf, spec)
    labels = tf.random.Generator.from_seed(spec.seed + 2).uniform(
        (SOURCE_IMAGES,), 0, classes, dtype=tf.int32)

    def prepare(jpeg: Any, label: Any) -> tuple[Any, Any]:
        image = tf.io.decode_jpeg(jpeg, channels=3)
        image = tf.image.random_crop(image, (side, side, 3))
        image = tf.image.random_flip_left_right(image)
        return tf.image.convert_image_dtype(image, tf.float32), label

    dataset = (tf.data.Dataset.from_tensor_slices((jpegs, labels))
               .repeat()
               .shuffle(SOURCE_IMAGES, seed=spec.seed)
               .map(prepare, num_parallel_calls=threads)
               .batch(batch, drop_remainder=True)
               # N threads keep N batches ahead: a pause (the profiler starting) cannot bank
               # more than that, so a starved pipeline stays starved
               .prefetch(threads))
    options = tf.data.Options()
    if spec.pipeline_threads is not None:
        # tf.data's own pool, which the map and the prefetch run on: "too few threads" is real
        options.threading.private_threadpool_size = spec.pipeline_threads
    return dataset.with_options(options)


def note(spec: RunSpec) -> str:
    """One line saying what the pipeline does, for the run's notes."""
    threads = spec.pipeline_threads or "tf.data.AUTOTUNE"
    src = spec.effective_source_size
    return (f"input: tf.data pipeline decoding {src} x {src} JPEGs, random crop to "
            f"{spec.effective_size} and flip on the CPU; pipeline threads and batches prefetched: "
            f"{threads}")
