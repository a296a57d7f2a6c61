# shellcheck shell=bash disable=SC2154  # $dir, $conf and $here are the caller's
# Sourced by slurm/local-cluster.sh for `--nodes N` (N >= 2): N SLURM nodes on this
# machine, each a network namespace of its own (its own address, ports and TCP
# stack) with its own hostname (a UTS namespace) and its own node-local directory
# ($dir/local, a tmpfs only that node sees, as /tmp on a real compute node). One
# slurmctld runs in a further namespace. A bridge in this (the root) namespace
# joins them all on a private /24 ($CONDENSE_SLURM_SUBNET, default 10.213.77) that
# has no route anywhere else: no traffic leaves the machine.
#   bridge cdn-br      $net.1    this namespace: sbatch, squeue, mpirun
#   condense-ctl       $net.10   slurmctld, hostname ctl
#   condense-node<i>   $net.<10+i> slurmd, hostname node<i>
# Everything else on the machine (the filesystem, munge's socket) the nodes share,
# as a cluster shares its network filesystem. Needs the caller's $dir (state), $conf
# (slurm.conf), $here (slurm/) and die().

net=${CONDENSE_SLURM_SUBNET:-10.213.77}
bridge=cdn-br

node_ns() { echo "condense-node$1"; }
node_addr() { echo "$net.$((10 + $1))"; }

# The nodes the last `start` brought up (1..N).
node_count() { cat "$dir/nodes" 2>/dev/null || echo 0; }

# The process that holds node i's namespaces (hostname, node-local mount).
holder_pid() { cat "$dir/node$1.holder" 2>/dev/null; }

# Runs a command on node i: in its network, UTS and mount namespaces.
on_node() {
  local i=$1
  shift
  nsenter --target "$(holder_pid "$i")" --net --uts --mount -- "$@"
}

nodes_check() {
  [ "$(id -u)" = 0 ] || die "--nodes needs root (network namespaces, and slurmd starts jobs as their users)"
  if ! command -v ip >/dev/null || ! command -v nsenter >/dev/null || ! command -v unshare >/dev/null; then
    die "--nodes needs ip (iproute2), nsenter and unshare (util-linux)"
  fi
  local probe=condense-probe-$$ err
  if ! err=$(ip netns add "$probe" 2>&1); then
    die "--nodes needs network namespaces, and \`ip netns add\` failed here: ${err//$'\n'/ }"
  fi
  ip netns del "$probe"
}

# The subnet must be nobody else's (run after this cluster's own bridge is gone).
subnet_check() {
  [[ $net =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "CONDENSE_SLURM_SUBNET must be three octets (a /24), not '$net'"
  if ip -4 -o addr | grep -q " $net\." || [ -n "$(ip -4 route show "$net.0/24")" ]; then
    die "$net.0/24 is in use on this machine; pick a free /24 with CONDENSE_SLURM_SUBNET"
  fi
}

# Removes everything `nodes_start` creates; safe to run on a half-built cluster.
nodes_stop() {
  local i pid
  for ((i = 1; i <= $(node_count); i++)); do
    # Every process of the node: its slurmd, job steps, ranks and the holder itself.
    for pid in $(ip netns pids "$(node_ns "$i")" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$(node_ns "$i")" 2>/dev/null || true
    ip link del "cdn-node$i" 2>/dev/null || true
    rm -f "$dir/node$i.holder"
  done
  # The controller and bridge only when they are this directory's cluster's.
  [ -f "$dir/nodes" ] || return 0
  for pid in $(ip netns pids condense-ctl 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del condense-ctl 2>/dev/null || true
  ip link del cdn-ctl 2>/dev/null || true
  ip link del "$bridge" 2>/dev/null || true
  rm -f "$dir/nodes" "$dir/slurmctld.pid"
}

# A namespace named $1 on the bridge with address $3 (veth $2 on this side).
attach() {
  local ns=$1 veth=$2 addr=$3
  ip netns add "$ns"
  ip link add "$veth" type veth peer name veth0 netns "$ns"
  ip link set "$veth" master "$bridge" up
  ip -n "$ns" addr add "$addr/24" dev veth0
  ip -n "$ns" link set veth0 up
  ip -n "$ns" link set lo up
}

nodes_write_conf() {
  local n=$1 hw i
  # This machine as slurmd sees it, without its name: every node claims all of it.
  hw=$(slurmd -C | head -n 1)
  [[ $hw == NodeName=* ]] || die "slurmd -C did not describe this machine: $hw"
  hw=${hw#NodeName=* }
  mkdir -p "$dir/state" "$dir/spool" "$dir/local"
  {
    cat <<CONF
# Written by slurm/local-cluster.sh --nodes $n: namespace nodes on $net.0/24.
ClusterName=condense-nodes
SlurmctldHost=ctl($net.10)
# A node that stops answering is marked down within ~10 s, and its jobs end rather
# than wait in the queue for it (resubmit a training run with --resume).
SlurmdTimeout=5
MessageTimeout=5
JobRequeue=0
KillWait=5
StateSaveLocation=$dir/state
# Jobs' temporary files (PMIx's among them) on the node-local tmpfs: in the shared
# /tmp the nodes' step directories of one job would collide.
TmpFS=$dir/local
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/%n.slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/%n.slurmd.log
CONF
    conf_common
    for ((i = 1; i <= n; i++)); do
      echo "NodeName=node$i NodeAddr=$(node_addr "$i") $hw State=UNKNOWN"
    done
    echo "PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } >"$conf"
}

nodes_start() {
  local n=$1 i
  [ "$n" -le 200 ] || die "--nodes $n: at most 200 nodes fit the /24"
  ip link show "$bridge" >/dev/null 2>&1 &&
    die "bridge $bridge exists: another --nodes cluster runs (stop it with its CONDENSE_SLURM_DIR)"
  subnet_check
  nodes_write_conf "$n"
  echo "$n" >"$dir/nodes"
  ip link add "$bridge" type bridge
  ip addr add "$net.1/24" dev "$bridge"
  ip link set "$bridge" up
  attach condense-ctl cdn-ctl "$net.10"
  # -c: a fresh cluster, without the jobs and node states of the last one.
  nsenter --net=/run/netns/condense-ctl unshare --uts sh -c "hostname ctl && exec slurmctld -c -f '$conf'"
  for ((i = 1; i <= n; i++)); do
    attach "$(node_ns "$i")" "cdn-node$i" "$(node_addr "$i")"
    # The holder keeps the node's hostname and node-local tmpfs alive; everything
    # later runs inside them by nsenter (on_node).
    # (nsenter rather than `ip netns exec`, which remounts /sys without the cgroup
    # filesystems that slurmd needs.)
    mkdir -p "$dir/spool/node$i"
    nsenter --net="/run/netns/$(node_ns "$i")" unshare --uts --mount --propagation private \
      sh -c "hostname node$i && mount -t tmpfs -o size=256m node$i '$dir/local' && exec sleep infinity" \
      </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/node$i.holder"
    disown
  done
  for ((i = 1; i <= n; i++)); do
    for _ in $(seq 1 50); do
      [ "$(on_node "$i" hostname 2>/dev/null)" = "node$i" ] && break
      sleep 0.1
    done
    on_node "$i" slurmd -f "$conf" || die "slurmd did not start on node$i; see $dir/node$i.slurmd.log"
  done
}

# Kills node i as a crash would: its slurmd, job steps and ranks at once. Its
# namespaces stay (the holder lives); the controller finds the node dead when it stops
# answering pings (SlurmdTimeout), and ends its jobs.
nodes_kill() {
  local i=$1 pid holder
  holder=$(holder_pid "$i")
  [ -n "$holder" ] || die "no node$i in this cluster"
  for pid in $(ip netns pids "$(node_ns "$i")"); do
    [ "$pid" = "$holder" ] || kill -9 "$pid" 2>/dev/null || true
  done
}

# The environment for jobs and mpirun on these nodes: TCP only, on the test subnet.
nodes_env() {
  cat <<ENV
export SLURM_CONF=$conf
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=$net.0/24
export OMPI_MCA_oob_tcp_if_include=$net.0/24
export OMPI_MCA_plm_rsh_agent=$here/node-exec.sh
export CONDENSE_SLURM_DIR=$dir
ENV
}
