#!/usr/bin/env bash
# Hostile command-line cases: what each one gives now and its peak resident memory.
#
#     cargo build --release && scripts/hostile_cases.sh > hostile.md
#
# Every case runs under an address-space limit of 2 GiB (ulimit -v), so a case that tried to
# allocate what it refuses would abort instead of printing its message. Needs /usr/bin/time.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/target/release/neqlab"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Hostile files.
printf '\x00\xff\xfe\x07\x00\x0d' > "$work/garbage.toml"
truncate -s 10G "$work/huge.toml"
truncate -s 100G "$work/huge.csv"
python3 - "$work" <<'PY'
import gzip, struct, sys, os
work = sys.argv[1]
def header(dims):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
def folder(name, images, gz):
    d = os.path.join(work, name); os.makedirs(d)
    for prefix, n in (("train", 20), ("t10k", 20)):
        open(os.path.join(d, f"{prefix}-labels-idx1-ubyte"), "wb").write(header([n]) + bytes(n))
        if prefix == "t10k":
            open(os.path.join(d, "t10k-images-idx3-ubyte"), "wb").write(header([n, 28, 28]) + bytes(n * 784))
    open(os.path.join(d, "train-images-idx3-ubyte" + (".gz" if gz else "")), "wb").write(images)
folder("claim-gz", gzip.compress(header([10**9, 28, 28])), True)
folder("claim-raw", header([10**9, 28, 28]), False)
with gzip.open(os.path.join(work, "bomb.gz"), "wb", compresslevel=6) as f:
    f.write(header([20, 28, 28]))
    zeros = bytes(1 << 20)
    for _ in range(1024):
        f.write(zeros)
folder("bomb", open(os.path.join(work, "bomb.gz"), "rb").read(), True)
folder("twice", gzip.compress(gzip.compress(header([20, 28, 28]) + bytes(20 * 784))), True)
PY
depth=100000
printf 'title = %s%s\n' "$(head -c $depth /dev/zero | tr '\0' '[')" "$(head -c $depth /dev/zero | tr '\0' ']')" > "$work/nested.toml"
sed -e 's|^kind = "regression-net"|kind = "regression-net"\ndata = "'"$work"'/huge.csv"|' -e '/^data_seed/d' presets/regression-net.toml > "$work/net-huge.toml"
sed -e 's|^kind = "regression-net"|kind = "regression-net"\ndata = "/dev/zero"|' -e '/^data_seed/d' presets/regression-net.toml > "$work/net-zero.toml"

cases=(
  "run bowl-current --set dynamics.walkers=1000000000"
  "run bowl-current --set dynamics.walkers=1e9"
  "run bowl-current --set landscape.n=1000000000000"
  "run double-well --set fp.grid=1024 --set dynamics.walkers=1000000"
  "run bowl-current --set fp.grid=100000"
  "run bowl-current --set dynamics.eta=nan"
  "run bowl-current --set dynamics.eta=inf"
  "run bowl-current --set dynamics.temperature=-inf"
  "run bowl-current --set dynamics.walkers=-5"
  "run bowl-current --set dynamics.steps=1e30"
  "run bowl-current --set dynamics.walkers="
  "run bowl-current --set fp.bounds=[0,nan,0,1]"
  "run bowl-current --set dynamics.seed=9223372036854775808"
  "run /dev/zero"
  "run $work"
  "run $work/garbage.toml"
  "run $work/huge.toml"
  "run $work/nested.toml"
  "run $work/net-huge.toml"
  "run $work/net-zero.toml"
  "bench --walkers 18446744073709551615"
  "bench --walkers 1000000000000 --repeats 1"
  "figure bowl-current --out $work/x.png --width 0"
  "figure bowl-current --out /nonexistent/x.png"
  "figure bowl-current --out $work/x.svg --arrow-gain=nan"
  "posterior sgld-vs-sgworld --permutations 1000000000000"
  "posterior sgld-vs-sgworld --etas nan,1"
  "posterior sgld-vs-sgworld --simulate --set dynamics.walkers=10000000000"
  "mnist --set mnist.hidden=1000000"
  "mnist --set mnist.hidden=4096 --set mnist.snapshots=20000"
  "mnist --set mnist.record_epochs=1000000000000"
  "mnist --set mnist.eta=inf"
  "mnist --preset /dev/zero"
  "mnist --idx $work/claim-gz"
  "mnist --idx $work/claim-raw"
  "mnist --idx $work/bomb"
  "mnist --idx $work/twice"
  "gui /dev/zero"
  "gui $work/garbage.toml"
)

echo "| # | command | exit | peak RSS | message |"
echo "|---|---|---|---|---|"
n=0
for case in "${cases[@]}"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  ( ulimit -v 2097152; /usr/bin/time -f '%x %M' -o "$work/time" "$bin" $case > /dev/null 2> "$work/err" )
  read -r status rss < <(tail -1 "$work/time" | sed 's/Command exited with non-zero status //')
  message=$(grep -v '^Command' "$work/err" | head -c 300 | tr '\n' ' ' | sed "s|$work|\$TMP|g; s/|/\\\\|/g")
  shown=$(echo "$case" | sed "s|$work|\$TMP|g")
  echo "| $n | \`neqlab $shown\` | $status | $((rss / 1024)) MB | $message |"
done

# The app's cases: the kittests of src/app type hostile numbers into its fields and open
# hostile files in the window, and print what the window shows (tab-separated). Their peak
# RSS is that of the whole test process.
echo
echo "| # | in the app | shown in the window (the state is unchanged) |"
echo "|---|---|---|"
/usr/bin/time -f '%M' -o "$work/time" cargo test --release --quiet --bin neqlab -- \
  app::number_field app::hostile_tests app::divergence_view --nocapture --test-threads 1 \
  2> /dev/null | grep -P '\t' | sed "s|^\.*||; s|$work|\$TMP|g; s|/tmp/\.tmp[A-Za-z0-9]*|\$TMP|g; s/|/\\\\|/g" |
  awk -F '\t' -v n="$n" '{ n++; printf "| %d | %s | %s |\n", n, $1, $2 }'
echo
echo "Peak RSS of the app test process (all app cases): $(( $(tail -1 "$work/time") / 1024 )) MB"
