# Shared by the multi-rank tests (tests/cli/dist_*.sh, CTest label "mpi"): `source` it
# after common.bash. mpirun2 runs its arguments as 2 ranks on this machine, 1 thread
# each, as CI's 2 cores allow: --oversubscribe (a container may report fewer slots),
# no core binding, and OpenMPI's consent to run as root (CI runs as root). To run one
# in the background and signal its ranks (mpirun's children), use "${MPIRUN2[@]}" ... &
# (a function would put a subshell between $! and mpirun).
command -v mpirun >/dev/null || { echo "SKIP: mpirun not installed (tools/setup.sh installs OpenMPI)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN=(mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)
MPIRUN2=("${MPIRUN[@]}" -np 2)
mpirun_n() {
  local n=$1; shift
  "${MPIRUN[@]}" -np "$n" "$@"
}
mpirun2() { mpirun_n 2 "$@"; }

# A small recipe on the CIFAR-10 sample for the equivalence tests: a listed network
# with BatchNorm after convolutions and in a residual block, no shuffle, no
# augmentation, direct convolutions, plain SGD with momentum, one thread, 3 steps.
# write_dist_recipe FILE OUT_DIR BATCH [KEY=VALUE...] [-- LAYER...]: common.bash's recipe
# with these settings (KEY=VALUE and LAYER as there; the layers default to DIST_LAYERS).
DIST_LAYERS=("- conv: {out: 16, kernel: 3, padding: 1, bias: false}" "- batch_norm: {}" "- relu: {}"
  "- residual:" "    body:" "      - conv: {out: 16, kernel: 3, padding: 1, bias: false}" "      - batch_norm: {}"
  "      - relu: {}" "      - conv: {out: 16, kernel: 3, padding: 1, bias: false}" "      - batch_norm: {}"
  "- relu: {}" "- max_pool: {kernel: 2}" "- conv: {out: 32, kernel: 3, padding: 1, stride: 2, bias: false}"
  "- batch_norm: {}" "- relu: {}" "- global_avg_pool: {}" "- flatten: {}" "- linear: {out: 10}")
DIST_NORM="{normalize: {mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616]}}"
write_dist_recipe() {
  local file=$1 out=$2 batch=$3 layers=(-- "${DIST_LAYERS[@]}"); shift 3
  [[ " $* " != *" -- "* ]] || layers=()
  recipe "$file" seed=3 conv_algorithm=direct model.num_classes=10 data.batch_size="$batch" data.eval_batch_size=200 \
    data.shuffle=false data.workers=0 data.train_transforms="[$DIST_NORM]" data.test_transforms="[$DIST_NORM]" \
    optimizer.lr=0.02 optimizer.momentum=0.9 optimizer.weight_decay=5.0e-4 schedule.name=constant trainer.max_steps=3 \
    trainer.eval_every=0 trainer.checkpoint_every_steps=1 trainer.keep_last=5 trainer.log_every=1 trainer.out_dir="$out" \
    "$@" "${layers[@]}"
}
