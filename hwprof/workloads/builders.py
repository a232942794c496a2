"""The TensorFlow behind each workload name: a compiled step and what one step is worth.

Only worker processes import this (TensorFlow is imported by the caller and passed in). Each
builder makes synthetic, seeded data on the device once (the input pipeline is never what is
measured, unless a run asks for one: ``data="pipeline"``, see :mod:`.pipeline`) and returns a
:class:`BuiltWorkload` whose ``step`` runs one compiled step and returns a small tensor;
reading that tensor (``.numpy()``) synchronises with the device.

Inference is measured the way a model is deployed: variables frozen into constants, so TensorFlow's
graph optimiser can fold and fuse convolution, batch norm and activation (MobileNet-V2 at batch 50
on a 2-core CPU: 194 img/s as a plain tf.function, 239 img/s frozen).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hwprof.core.spec import RunSpec

# The conventional cost of a training step: forward, plus backward at about twice the forward.
TRAIN_FLOPS_FACTOR = 3.0


@dataclass
class BuiltWorkload:
    """A ready-to-time workload."""

    step: Callable[[], Any]  # runs one step; returns a small tensor to synchronise on
    samples_per_step: int
    flops_per_sample: float | None
    bytes_per_sample: float | None = None
    notes: list[str] = field(default_factory=list)
    # Keras models only, for the numerics check: the model and its input; for inference the
    # timed step's value is the model's output (the worker keeps the last one)
    model: Any = None
    inputs: Any = None
    last_output: Any = None


def compute_dtype(tf: Any, spec: RunSpec) -> Any:
    """The dtype raw-op workloads compute in."""
    return {"fp32": tf.float32, "mixed_float16": tf.float16, "mixed_bfloat16": tf.bfloat16}[
        spec.precision
    ]


# -- raw-op workloads ------------------------------------------------------------------------------
def build_matmul(tf: Any, spec: RunSpec) -> BuiltWorkload:
    """Batched N x N GEMM; train = forward plus the gradients of both operands (6N^3)."""
    n, batch = spec.effective_size, spec.effective_batch_size
    dtype = compute_dtype(tf, spec)
    gen = tf.random.Generator.from_seed(spec.seed)
    a = tf.Variable(tf.cast(gen.normal((batch, n, n)), dtype))
    b = tf.Variable(tf.cast(gen.normal((batch, n, n)), dtype))
    if spec.mode == "infer":

        @tf.function(jit_compile=spec.xla)
        def step() -> Any:
            # the sum reads all of C (N^2 work against 2N^3) so nothing can be pruned
            return tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))

        flops = 2.0 * n**3
    else:

        @tf.function(jit_compile=spec.xla)
        def step() -> Any:
            with tf.GradientTape() as tape:
                c = tf.matmul(a, b)
                loss = tf.reduce_sum(tf.cast(c, tf.float32))
            ga, gb = tape.gradient(loss, [a, b])
            return loss + tf.cast(tf.reduce_sum(ga) + tf.reduce_sum(gb), tf.float32)

        flops = 6.0 * n**3
    return BuiltWorkload(step=step, samples_per_step=batch, flops_per_sample=flops)


def build_bandwidth(tf: Any, spec: RunSpec) -> BuiltWorkload:
    """In place x <- a*x + b over a large vector: one read and one write of every element."""
    n = spec.effective_size * 1_000_000
    dtype = compute_dtype(tf, spec)
    x = tf.Variable(tf.ones((n,), dtype))
    a, b = tf.constant(0.5, dtype), tf.constant(1.0, dtype)  # converges to 2: no overflow

    @tf.function(jit_compile=spec.xla)
    def step() -> Any:
        x.assign(x * a + b)
        return x[0]

    item = dtype.size
    return BuiltWorkload(
        step=step,
        samples_per_step=n,
        flops_per_sample=2.0,
        bytes_per_sample=2.0 * item,
        notes=[f"{n:,} elements of {item} bytes, read and written once per step"],
    )


# -- Keras models ----------------------------------------------------------------------------------
@dataclass
class ModelParts:
    """A Keras model with its synthetic inputs and labels."""

    model: Any
    x: Any
    y: Any
    forward_flops_per_sample: float | None  # None: measure with TensorFlow's cost analysis


def _images(tf: Any, gen: Any, spec: RunSpec, side: int, channels: int = 3) -> Any:
    return gen.normal((spec.effective_batch_size, side, side, channels))


def _labels(tf: Any, gen: Any, spec: RunSpec, classes: int) -> Any:
    return gen.uniform((spec.effective_batch_size,), 0, classes, dtype=tf.int32)


def _head(keras: Any, x: Any, classes: int) -> Any:
    # logits in float32 whatever the policy: the loss is numerically safe under mixed precision
    return keras.layers.Dense(classes, dtype="float32")(x)


def parts_conv(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """One 3x3 conv2d layer 64 -> 64, ReLU, pooled to a 10-class head."""
    side = spec.effective_size
    inp = keras.Input((side, side, 64))
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, _head(keras, h, 10))
    flops = 2.0 * side * side * 9 * 64 * 64
    return ModelParts(model, _images(tf, gen, spec, side, 64), _labels(tf, gen, spec, 10), flops)


def parts_mlp(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """784 -> W -> W -> 10."""
    w = spec.effective_size
    inp = keras.Input((784,))
    h = keras.layers.Dense(w, activation="relu")(inp)
    h = keras.layers.Dense(w, activation="relu")(h)
    model = keras.Model(inp, _head(keras, h, 10))
    flops = 2.0 * (784 * w + w * w + w * 10)
    x = gen.normal((spec.effective_batch_size, 784))
    return ModelParts(model, x, _labels(tf, gen, spec, 10), flops)


def parts_cifar10_cnn(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """The Keras example's CIFAR-10 convnet."""
    side = spec.effective_size
    layers = keras.layers
    inp = keras.Input((side, side, 3))
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    h = layers.Conv2D(32, 3, activation="relu")(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Dropout(0.25)(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(64, 3, activation="relu")(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Dropout(0.25)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(512, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    model = keras.Model(inp, _head(keras, h, 10))
    return ModelParts(model, _images(tf, gen, spec, side), _labels(tf, gen, spec, 10), None)


def parts_resnet50(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """keras.applications.ResNet50, untrained."""
    side = spec.effective_size
    model = keras.applications.ResNet50(
        weights=None, input_shape=(side, side, 3), classes=1000, classifier_activation=None
    )
    return ModelParts(model, _images(tf, gen, spec, side), _labels(tf, gen, spec, 1000), None)


def parts_mobilenet_v2(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """keras.applications.MobileNetV2, untrained."""
    side = spec.effective_size
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(side, side, 3), classes=1000, classifier_activation=None
    )
    return ModelParts(model, _images(tf, gen, spec, side), _labels(tf, gen, spec, 1000), None)


LSTM_VOCAB, LSTM_EMBED, LSTM_UNITS = 10_000, 128, 256


def parts_lstm(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """Embedding -> LSTM(256) -> 2 classes, over ``size`` tokens."""
    seq = spec.effective_size
    inp = keras.Input((seq,), dtype="int32")
    h = keras.layers.Embedding(LSTM_VOCAB, LSTM_EMBED)(inp)
    h = keras.layers.LSTM(LSTM_UNITS)(h)
    model = keras.Model(inp, _head(keras, h, 2))
    # four gates, each a (input + hidden) x units matrix product per token
    flops = 2.0 * 4 * LSTM_UNITS * (LSTM_EMBED + LSTM_UNITS) * seq + 2.0 * LSTM_UNITS * 2
    x = gen.uniform((spec.effective_batch_size, seq), 0, LSTM_VOCAB, dtype=tf.int32)
    return ModelParts(model, x, _labels(tf, gen, spec, 2), flops)


D_MODEL, HEADS, FFN = 256, 8, 1024


def parts_transformer(tf: Any, keras: Any, gen: Any, spec: RunSpec) -> ModelParts:
    """One post-norm encoder block over ``size`` tokens of width 256."""
    seq = spec.effective_size
    layers = keras.layers
    inp = keras.Input((seq, D_MODEL))
    att = layers.MultiHeadAttention(num_heads=HEADS, key_dim=D_MODEL // HEADS)(inp, inp)
    h = layers.LayerNormalization()(inp + att)
    f = layers.Dense(FFN, activation="relu")(h)
    f = layers.Dense(D_MODEL)(f)
    h = layers.LayerNormalization()(h + f)
    h = layers.GlobalAveragePooling1D()(h)
    model = keras.Model(inp, _head(keras, h, 10))
    # Q, K, V and output projections (4 d^2 per token), FFN (2 d ffn per token), scores and
    # weighted sum (2 seq d per token each), all as multiply-adds (x2)
    per_token = 2.0 * (4 * D_MODEL**2 + 2 * D_MODEL * FFN + 2 * seq * D_MODEL)
    x = gen.normal((spec.effective_batch_size, seq, D_MODEL))
    return ModelParts(model, x, _labels(tf, gen, spec, 10), per_token * seq)


MODEL_PARTS: dict[str, Callable[[Any, Any, Any, RunSpec], ModelParts]] = {
    "conv": parts_conv,
    "mlp": parts_mlp,
    "cifar10_cnn": parts_cifar10_cnn,
    "resnet50": parts_resnet50,
    "mobilenet_v2": parts_mobilenet_v2,
    "lstm": parts_lstm,
    "transformer": parts_transformer,
}


def graph_flops(tf: Any, concrete: Any) -> float | None:
    """FLOPs of one call of a concrete function, from TensorFlow's cost analysis (static shapes)."""
    try:
        from tensorflow.python.profiler import model_analyzer, option_builder

        opts = option_builder.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        info = model_analyzer.profile(graph=concrete.graph, options=opts)
        return float(info.total_float_ops) or None
    except Exception:  # the analysis is optional: FLOPs are then unknown, not wrong
        return None


LOWERED_CONTROL_FLOW = frozenset({"Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond"})


def frozen_forward(tf: Any, concrete: Any, x: Any, *, imported: bool = True
                   ) -> Callable[..., Any]:
    """The forward pass on ``x`` with the model's variables frozen into constants.

    Called with a tensor, the forward pass on that tensor instead (a pipeline's next batch).
    ``imported=False`` takes the public path (for XLA on a function argument: the imported
    graph keeps its input Placeholder, which XLA cannot compile).

    Called inside a ``tf.function``, it puts the frozen graph's ops there. TensorFlow's own
    ``convert_variables_to_constants_v2`` freezes the graph quickly, then spends most of its time
    (ResNet-50: 6 of 7 s) rebuilding it op by op in Python as a new concrete function; importing
    the frozen GraphDef into the step's graph instead takes a fraction of a second and runs the
    same ops (the same output to the last bit, the same speed). Graphs with loops, or a
    TensorFlow whose internals differ, take the public path.
    """
    from tensorflow.python.framework import convert_to_constants

    try:
        data = convert_to_constants._FunctionConverterDataInEager(
            func=concrete, lower_control_flow=True, aggressive_inlining=False)
        graph_def, converted = convert_to_constants._replace_variables_by_constants(
            converter_data=data)
        captured = {id(concrete.graph.internal_captures[i]) for i in converted}
        (input_name,) = [t.name for t in concrete.inputs if id(t) not in captured]
        output_names = [t.name for t in concrete.outputs]
        # a lowered loop (an LSTM's) has frames that the step's own control dependencies
        # would cross: such graphs stay a function of their own
        fast = imported and not any(node.op in LOWERED_CONTROL_FLOW for node in graph_def.node)
    except Exception:  # not this TensorFlow's internals
        fast = False
    if not fast:
        frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
        return lambda inputs=None: frozen(x if inputs is None else inputs)

    def forward(inputs: Any = None) -> Any:
        feed = tf.identity(x) if inputs is None else inputs
        return tf.graph_util.import_graph_def(
            graph_def, input_map={input_name: feed}, return_elements=output_names,
            name="frozen")

    return forward


def set_policy(keras: Any, spec: RunSpec) -> None:
    """Set Keras' global dtype policy for ``spec`` (float32 for fp32).

    Always set, so a worker that runs many tests never builds an fp32 model under an earlier
    test's mixed precision.
    """
    keras.mixed_precision.set_global_policy("float32" if spec.precision == "fp32"
                                            else spec.precision)


def first_output(out: Any) -> Any:
    """A model's output, or the first of several (a frozen function returns a list)."""
    return out[0] if isinstance(out, (list, tuple)) else out


def estimate_batch_norms(tf: Any, keras: Any, model: Any, x: Any) -> None:
    """Set each BatchNormalization's moving mean and variance to its statistics on ``x``.

    An untrained model's moving statistics are Keras' initial ones (mean 0, variance 1), so in
    inference every BatchNormalization passes its input through unscaled and activations shrink
    layer after layer: MobileNet-V2's logits come out near 1e-17, and a quantized model's top-1
    agreement with such noise means nothing. One forward pass in training mode with momentum 0
    sets each layer's moving statistics to the batch statistics of the workload's own seeded
    inputs (what a trained model's statistics are for its data), so activations keep about unit
    scale and logits are O(1); TensorFlow and TFLite runs then serve the same model. A model
    without BatchNormalization is left as it is.
    """
    layers = [layer for layer in model._flatten_layers(include_self=False)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    saved = [layer.momentum for layer in layers]
    try:
        for layer in layers:
            layer.momentum = 0.0
        model(x, training=True)  # on the caller's device, inside its scope
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum


def make_parts(tf: Any, keras: Any, spec: RunSpec) -> ModelParts:
    """``spec``'s model, inputs and labels, built under its dtype policy and seed."""
    set_policy(keras, spec)
    keras.utils.set_random_seed(spec.seed)
    gen = tf.random.Generator.from_seed(spec.seed)
    return MODEL_PARTS[spec.workload](tf, keras, gen, spec)


def forward_graph(tf: Any, parts: ModelParts, batch: int) -> tuple[Any, float | None, list[str]]:
    """The model's inference as a concrete function, its FLOPs per sample, and a note if unknown."""
    model, x = parts.model, parts.x
    notes: list[str] = []

    @tf.function
    def forward(inputs: Any) -> Any:
        return model(inputs, training=False)

    concrete = forward.get_concrete_function(tf.TensorSpec(x.shape, x.dtype))
    flops = parts.forward_flops_per_sample
    if flops is None:
        # the cost analysis counts the same FLOPs in the plain forward graph as in the frozen
        # one (checked: CIFAR-10 CNN, MobileNet-V2, ResNet-50), without freezing's cost
        # (ResNet-50: 4.4 s to freeze, 0.8 s to analyse frozen; 0.13 s to analyse plain)
        total = graph_flops(tf, concrete)
        flops = total / batch if total else None
        if flops is None:
            notes.append("FLOPs unknown: TensorFlow's cost analysis gave none")
    return concrete, flops, notes


def sgd(keras: Any, spec: RunSpec) -> tuple[Any, Any, bool]:
    """The training's optimizer (loss-scaled in mixed_float16), its loss, and whether it scales."""
    optimizer: Any = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    scaled = spec.precision == "mixed_float16"
    if scaled:
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), scaled


def build_keras(tf: Any, spec: RunSpec) -> BuiltWorkload:
    """A Keras model trained with SGD on cross-entropy, or served frozen."""
    import keras

    parts = make_parts(tf, keras, spec)
    model, x, y = parts.model, parts.x, parts.y
    batch = spec.effective_batch_size
    if spec.mode == "infer" and spec.precision == "fp32":
        # fp32 only: the model TFLite converts (and measures its accuracy against). With unit-
        # scale activations this untrained network amplifies rounding layer by layer (bf16's
        # 0.4% grows to 23-30% at MobileNet-V2's logits), past the suite's numerics tolerance
        estimate_batch_norms(tf, keras, model, x)
    concrete, flops, notes = forward_graph(tf, parts, batch)

    if spec.data == "pipeline":
        return _with_pipeline(tf, keras, spec, model, concrete, flops, notes)

    if spec.mode == "infer":
        frozen = frozen_forward(tf, concrete, x)

        @tf.function(jit_compile=spec.xla)
        def infer_step() -> Any:
            # the predictions themselves (batch x classes, small) come back to the host, as they
            # do when a model serves; a reduction here cost MobileNet-V2 about 5%
            return first_output(frozen())

        return BuiltWorkload(infer_step, batch, flops, notes=notes, model=model, inputs=x)

    optimizer, loss_fn, scaled = sgd(keras, spec)

    @tf.function(jit_compile=spec.xla)
    def train_step() -> Any:
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return BuiltWorkload(
        train_step, batch, flops * TRAIN_FLOPS_FACTOR if flops else None, notes=notes,
        model=model, inputs=x,
    )


def _with_pipeline(tf: Any, keras: Any, spec: RunSpec, model: Any, concrete: Any,
                   flops: float | None, notes: list[str]) -> BuiltWorkload:
    """The model's step reading each batch from :func:`.pipeline.make_dataset`.

    ``next(iterator)`` runs inside the step's ``tf.function`` (the iterator is its argument), so
    the profiler sees the wait for input as the consumer's ``IteratorGetNext``; the model's part
    is a function of its own, so XLA can compile it (IteratorGetNext cannot be compiled).
    """
    from hwprof.workloads import pipeline

    batch = spec.effective_batch_size
    iterator = iter(pipeline.make_dataset(tf, spec, int(model.output_shape[-1])))
    notes = [*notes, pipeline.note(spec)]
    if spec.mode == "infer":
        frozen = frozen_forward(tf, concrete, None, imported=not spec.xla)

        @tf.function(jit_compile=spec.xla)
        def infer_on(x: Any) -> Any:
            return first_output(frozen(x))

        @tf.function
        def infer_step(it: Any) -> Any:
            x, _ = next(it)
            return infer_on(x)

        return BuiltWorkload(lambda: infer_step(iterator), batch, flops, notes=notes,
                             model=model)

    optimizer, loss_fn, scaled = sgd(keras, spec)

    @tf.function(jit_compile=spec.xla)
    def train_on(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(it: Any) -> Any:
        return train_on(*next(it))

    return BuiltWorkload(lambda: train_step(iterator), batch,
                         flops * TRAIN_FLOPS_FACTOR if flops else None, notes=notes, model=model)


# The numerics check compares this many samples: enough to see a wrong kernel, few enough that
# the eager fp32 reference costs little next to the test (models are per-sample in inference)
NUMERICS_SAMPLES = 4


def fp32_reference(tf: Any, spec: RunSpec, built: BuiltWorkload) -> Any:
    """The model's output on its first samples in fp32 on the CPU: the numerics check's reference.

    The model itself, run eagerly on ``/CPU:0``; a mixed-precision model computes in float32 for
    it (its variables are float32 already, so the weights are exactly the test's). Leaves the
    global policy at float32.
    """
    import keras

    keras.mixed_precision.set_global_policy("float32")
    x = built.inputs[:NUMERICS_SAMPLES]
    with tf.device("/CPU:0"):
        if spec.precision == "fp32":
            return first_output(built.model(tf.identity(x), training=False))
        try:
            with computing_in_float32(keras, built.model):
                return first_output(built.model(tf.identity(x), training=False))
        except (AttributeError, TypeError, ValueError):  # a Keras that refuses: build it anew
            small = spec.model_copy(update={"batch_size": 1})  # its own data is not used
            parts = MODEL_PARTS[spec.workload](tf, keras, tf.random.Generator.from_seed(0), small)
            parts.model.set_weights(built.model.get_weights())
            return first_output(parts.model(tf.identity(x), training=False))


@contextmanager
def computing_in_float32(keras: Any, model: Any) -> Iterator[None]:
    """Every layer of ``model`` computes in float32 inside the block (its policies restored after).

    The same as a model of the same architecture built under the float32 policy and given these
    weights (checked: the same output to the last bit), without building one (MobileNet-V2: 4.5 s
    against 1.8 s).
    """
    saved = [(layer, layer.dtype_policy) for layer in model._flatten_layers(include_self=True)]
    try:
        for layer, _ in saved:
            layer.dtype_policy = keras.DTypePolicy("float32")
        yield
    finally:
        for layer, policy in saved:
            layer.dtype_policy = policy


def build_distributed(tf: Any, spec: RunSpec, strategy: Any) -> BuiltWorkload:
    """A Keras model trained data-parallel under ``strategy`` (MirroredStrategy or multi-worker).

    Every replica gets ``batch_size`` samples a step (the global batch is that times the
    replicas); gradients are all-reduced by the strategy, as in a user's own distributed training.
    """
    import keras

    set_policy(keras, spec)
    keras.utils.set_random_seed(spec.seed)
    replicas = strategy.num_replicas_in_sync
    per_replica = spec.effective_batch_size
    global_batch = per_replica * replicas
    data_spec = spec.model_copy(update={"batch_size": global_batch, "replicas": None,
                                        "cluster": None, "task_index": None})
    with strategy.scope():
        gen = tf.random.Generator.from_seed(spec.seed)
        parts = MODEL_PARTS[spec.workload](tf, keras, gen, data_spec)
        model = parts.model
        optimizer: Any = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        if spec.precision == "mixed_float16":
            optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="none")
    scaled = spec.precision == "mixed_float16"
    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    dataset = tf.data.Dataset.from_tensors((parts.x, parts.y)).unbatch().batch(
        global_batch, drop_remainder=True).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset, options))

    def replica_step(inputs: Any) -> Any:
        x, y = inputs
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(y, logits), global_batch_size=global_batch)
            target = optimizer.scale_loss(loss) if scaled else loss
        grads = tape.gradient(target, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step() -> Any:
        per_replica_loss = strategy.run(replica_step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    flops = parts.forward_flops_per_sample
    notes = [f"{type(strategy).__name__}: {replicas} replicas in sync, {per_replica} samples "
             f"each, global batch {global_batch}"]
    if flops is None:
        notes.append("FLOPs unknown for distributed runs of this model")
    return BuiltWorkload(train_step, global_batch,
                         flops * TRAIN_FLOPS_FACTOR if flops else None, notes=notes)


def build(tf: Any, spec: RunSpec, strategy: Any = None) -> BuiltWorkload:
    """Build the workload ``spec`` names (inside the device scope the caller opened)."""
    if strategy is not None:
        return build_distributed(tf, spec, strategy)
    if spec.workload == "matmul":
        return build_matmul(tf, spec)
    if spec.workload == "bandwidth":
        return build_bandwidth(tf, spec)
    return build_keras(tf, spec)


BUILT_NAMES = ("matmul", "bandwidth", *MODEL_PARTS)
