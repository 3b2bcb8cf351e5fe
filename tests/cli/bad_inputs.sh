# Bad recipes, data files and checkpoints: a one-line error naming the file/key and a
# non-zero exit code, never a crash; nothing already saved is damaged.
source "$(dirname "$0")/common.bash"
need_sample
R="$TMP/r.yaml"
smoke_plus() { cp configs/smoke.yaml "$R"; printf '%s\n' "$@" >>"$R"; }  # smoke.yaml plus these lines

smoke_plus "typo_key: 1"
expect_error 1 "r.yaml:[0-9]+:[0-9]+: unknown key 'typo_key'" -- "$NF" train "$R" --set trainer.out_dir="$TMP/o"
sed 's/batch_size: 64/batchsize: 64/' configs/smoke.yaml >"$R"
expect_error 1 "r.yaml:[0-9]+:[0-9]+: unknown key 'data.batchsize' \(did you mean 'data.batch_size'\?\)" -- "$NF" train "$R" --set trainer.out_dir="$TMP/o"
sed 's/batch_size: 64/batch_size: lots/' configs/smoke.yaml >"$R"
expect_error 1 "r.yaml:[0-9]+:[0-9]+: data.batch_size: expected an integer" -- "$NF" train "$R" --set trainer.out_dir="$TMP/o"
sed 's/batch_size: 64/batch_size: -3/' configs/smoke.yaml >"$R"
expect_error 1 "data.batch_size: -3 is out of range" -- "$NF" train "$R" --set trainer.out_dir="$TMP/o"
expect_error 1 "optimizer.name: 'adam' is not one of sgd \| adamw" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set optimizer.name=adam
expect_error 1 "unknown model 'resnet21'" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set model.name=resnet21
expect_error 1 "unknown transform 'rotate'" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set 'data.train_transforms=[{rotate: {deg: 5}}]'
expect_error 1 "r.yaml:[0-9]+:[0-9]+: invalid YAML" -- bash -c "printf 'model: [\n' >'$R'; '$NF' train '$R'"
expect_error 1 "no such recipe file" -- "$NF" train "$TMP/none.yaml"
expect_error 1 "precision: 'bf16' is not one of fp32 \| tf32" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set precision=bf16
expect_error 2 "normforge: " -- "$NF" train
expect_error 2 "normforge: " -- "$NF" frobnicate configs/smoke.yaml

# A GPU asked for where there is none (every CI machine): a clear error, for every command.
if ! nvidia-smi -L >/dev/null 2>&1; then
  for cmd in train bench summary; do
    expect_error 1 "device: cuda but no CUDA GPU was found" -- "$NF" $cmd configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set device=cuda
  done
fi

# Data: a missing folder, a file whose size is not whole records, a bad label.
expect_error 1 "$TMP/nodata" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set data.root="$TMP/nodata"
mkdir -p "$TMP/bad"
head -c 3074 "$SAMPLE/data_batch_1.bin" >"$TMP/bad/data_batch_1.bin"
cp "$SAMPLE/test_batch.bin" "$TMP/bad/"
expect_error 1 "data_batch_1.bin.*(multiple|record)" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set data.root="$TMP/bad"
head -c 3073 "$SAMPLE/data_batch_1.bin" >"$TMP/bad/data_batch_1.bin"
printf '\x0c' | dd of="$TMP/bad/data_batch_1.bin" bs=1 count=1 conv=notrunc 2>/dev/null
expect_error 1 "data_batch_1.bin.*label" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set data.root="$TMP/bad"
expect_error 1 "in_channels" -- "$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set model.in_channels=1

# Checkpoints: truncated, not a checkpoint, wrong model; the good one stays intact.
"$NF" train configs/smoke.yaml --set trainer.out_dir="$TMP/o" --set trainer.out_dir="$TMP/run" --set trainer.max_steps=2 >/dev/null 2>&1
cp "$TMP/run/final/model.safetensors" "$TMP/good.safetensors"
head -c 1000 "$TMP/good.safetensors" >"$TMP/trunc.safetensors"
expect_error 1 "trunc.safetensors.*(outside the data|exceeds)" -- "$NF" eval configs/smoke.yaml --checkpoint "$TMP/trunc.safetensors"
expect_error 1 "r.yaml|no such checkpoint" -- "$NF" eval configs/smoke.yaml --checkpoint "$TMP/none"
expect_error 1 "good.safetensors: .*missing key" -- "$NF" eval configs/smoke.yaml --checkpoint "$TMP/good.safetensors" --set model.name=resnet14
cmp -s "$TMP/good.safetensors" "$TMP/run/final/model.safetensors" || fail "a failed command changed a checkpoint"
echo "bad inputs: ok"
