#!/usr/bin/env bash
# The whole GPU check in one device call: install the carried skorch wheel, run the tests on
# the GPU, then the speed, scaling, Fashion-MNIST accuracy and translation benchmarks (the
# viewpoint study when STEPS names it);
# everything lands in $OUT.
#
# Here, once:   make gpu-bundle            (skorch wheel into .whl/, Fashion-MNIST into .data/)
# Device call:  run(command="bash benchmarks/gpu_check.sh", carry=[".whl", ".data"], timeout_s=540)
# The viewpoint study (the paper's affNIST test, benchmarks/bench_viewpoints.py) is a second call
# of its own (500 s at most):
#               run(command="STEPS='environment viewpoints_fashion viewpoints_digits' \
#                   bash benchmarks/gpu_check.sh", ...)
# and accuracy against image size (benchmarks/bench_sizes.py) a third, when time is left:
#               run(command="STEPS='environment sizes' bash benchmarks/gpu_check.sh", ...)
# skorch's epoch loop against one reading the losses back every 64 batches
# (benchmarks/bench_loop.py: would that be worth a copy of skorch's loop?) fits beside the
# environment step:
#               run(command="STEPS='environment loop' bash benchmarks/gpu_check.sh", ...)
#
# QUICK=1 shrinks every step (a dry run on a CPU: QUICK=1 DEVICE=cpu bash benchmarks/gpu_check.sh).
set -uo pipefail
OUT=${OUT:-gpu_out}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SKLEARN_CAPSNET_FASHION_MNIST=${SKLEARN_CAPSNET_FASHION_MNIST:-$PWD/.data/fashion-mnist}
if ! python3 -c "import skorch" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site" || exit 1
fi
if [ "${QUICK:-0}" = 1 ]; then
    SPEED="--batch-sizes 32 --steps 2 --samples 128 --epochs 1"
    COMPILED="--batch-sizes 32 --steps 1 --skip estimator --compile"
    SCALING="--batch-sizes 32 --steps 2 --skip engine estimator --scale-samples 256 512"
    SCALING="$SCALING --scale-classes 10 20 --scale-params {\"conv_channels\":16,\"primary_types\":4}"
    ACC="--train-size 512 --test-size 256"
    ACC_PARAMS='{"max_epochs": 1, "conv_channels": 32, "primary_types": 8}'
    TRANSLATION="--train-size 512 --test-size 256 --epochs 1 --batch-size 32"
    TRANSLATION_PARAMS='{"conv_channels": 32, "primary_types": 8}'
    TESTS="tests/test_engine.py"
    VIEWPOINTS="--cpu --seeds 0 --max-epochs 1 --sizes {\"train\":256,\"held_out\":64,\"validation\":64,\"test\":64}"
    SIZES="--sizes 28 40 --train 256 --test 128 --epochs 1 --pairs 256 --pair-epochs 1"
    LOOP="--samples 64 --batch-size 16 --epochs 2 --rounds 2"
else
    SPEED="--batch-sizes 128 512 --steps 30 --samples 60000 --epochs 3"
    COMPILED="--batch-sizes 512 --steps 20 --skip estimator --compile"
    SCALING="--batch-sizes 512 --steps 20 --skip engine estimator"
    SCALING="$SCALING --scale-samples 10000 30000 60000 --scale-classes 10 100"
    ACC=""
    ACC_PARAMS='{"max_epochs": 12, "batch_size": 128, "flip": true}'
    TRANSLATION="--epochs 10 --batch-size 128"
    TRANSLATION_PARAMS='{}'
    TESTS="tests/test_engine.py tests/test_classifier.py tests/test_speed_switches.py"
    TESTS="$TESTS tests/test_reliability.py tests/test_data_pipeline.py"
    # the protocol at scale, sized (by estimate, not yet measured) for one device call
    VIEWPOINTS="--sizes {\"train\":20000,\"held_out\":2000,\"validation\":2000,\"test\":5000}"
    VIEWPOINTS="$VIEWPOINTS --max-epochs 15"  # and until held-out stops rising (patience 3)
    # every size of the CPU table, ten times the images (sized by estimate, not yet measured)
    SIZES="--train 15000 --test 10000 --epochs 5 --pairs 30000 --pair-epochs 5"
    LOOP="--samples 20000 --batch-size 100 --epochs 3 --rounds 2"  # by estimate: ~2 minutes
fi
STEPS=${STEPS:-environment tests speed scaling accuracy translation compiled}
step() {  # name, seconds, command...: run, keep the log, never stop the whole check
    local name=$1 limit=$2; shift 2
    [[ " $STEPS " == *" $name "* ]] || return 0
    echo "== $name" | tee -a "$OUT/summary.txt"
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    echo "   exit $?" | tee -a "$OUT/summary.txt"
}
step environment 30 python3 -c "import json, platform, torch, skorch, sklearn; print(json.dumps({
    'python': platform.python_version(), 'torch': torch.__version__, 'skorch': skorch.__version__,
    'sklearn': sklearn.__version__, 'cuda': torch.cuda.is_available(),
    'device': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}))"
step tests 90 python3 -m pytest -q -x -p no:cacheprovider $TESTS
step speed 90 python3 benchmarks/bench_speed.py --device "$DEVICE" $SPEED
step scaling 60 python3 benchmarks/bench_speed.py --device "$DEVICE" $SCALING
step accuracy 80 python3 benchmarks/bench_accuracy.py $ACC --params "$ACC_PARAMS"
step translation 60 python3 benchmarks/bench_translation.py $TRANSLATION \
    --capsnet-params "$TRANSLATION_PARAMS"
step compiled 90 python3 benchmarks/bench_speed.py --device "$DEVICE" $COMPILED
step viewpoints_fashion 400 python3 benchmarks/bench_viewpoints.py $VIEWPOINTS --datasets fashion
step viewpoints_digits 100 python3 benchmarks/bench_viewpoints.py $VIEWPOINTS --datasets digits
step sizes 500 python3 benchmarks/bench_sizes.py $SIZES
step loop 240 python3 benchmarks/bench_loop.py --device "$DEVICE" $LOOP
cat "$OUT"/{speed,scaling,accuracy,translation,compiled,viewpoints_*,sizes,loop}.log 2>/dev/null \
    | grep -h '^{' > "$OUT/results.jsonl"
cat "$OUT/summary.txt"
