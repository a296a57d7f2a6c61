#!/usr/bin/env bash
# A single-node SLURM on this machine (munge, slurmctld and slurmd on localhost), to
# try the scripts in slurm/ without a cluster; the tests use it too. Root only.
# It keeps its own config and state in $CONDENSE_SLURM_DIR (default
# /tmp/condense-slurm) and never touches /etc/slurm, so on a real cluster it changes
# nothing; point the SLURM commands at it with the line `start` prints:
#   eval "$(bash slurm/local-cluster.sh start)"   # exports SLURM_CONF
#   bash slurm/local-cluster.sh status          # exit 0 when it answers
#   bash slurm/local-cluster.sh stop
# `start` is idempotent: a cluster it started that still answers is left running.
#
# With `--nodes N` (N >= 2; the same option for status, stop and kill) it is N nodes
# instead, each in network namespaces of its own with its own address and hostname
# (slurm/local-nodes.sh says how), so that ranks on different nodes talk over TCP:
#   eval "$(bash slurm/local-cluster.sh start --nodes 2)"  # SLURM_CONF, Open MPI's TCP settings
#   sbatch -N 2 -n 4 slurm/condense.sbatch train ... --tp 2    # 2 ranks per node
#   mpirun -n 4 --host node1:2,node2:2 build/condense train ... --tp 2
#   bash slurm/local-cluster.sh kill node2 --nodes 2     # node2 crashes: slurmd, steps, ranks
#   bash slurm/local-cluster.sh stop --nodes 2           # namespaces, links and daemons gone
# Its state lives in $CONDENSE_SLURM_DIR (default /tmp/condense-slurm-nodes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action=${1:-start}
[ $# -gt 0 ] && shift
victim=
if [ "$action" = kill ]; then
  victim=${1:-}
  [ $# -gt 0 ] && shift
fi
nodes=1
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes)
      nodes=${2:-}
      shift 2 || true
      ;;
    *) echo "local-cluster: unknown option '$1' (expected --nodes N)" >&2 && exit 1 ;;
  esac
done
[[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "local-cluster: --nodes needs a count >= 1, not '$nodes'" >&2 && exit 1; }
if [ "$nodes" = 1 ]; then
  dir=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm}
else
  dir=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm-nodes}
fi
conf=$dir/slurm.conf

die() {
  echo "local-cluster: $*" >&2
  exit 1
}

stop() {
  for d in slurmd slurmctld; do
    [ -f "$dir/$d.pid" ] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
    rm -f "$dir/$d.pid"
  done
}

start_munge() {
  if [ ! -f /etc/munge/munge.key ] && command -v mungekey >/dev/null; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
  fi
  [ -f /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing (is the munge package installed?)"
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
  fi
  munge -n </dev/null | unmunge >/dev/null || die "munged does not answer"
}

# What both layouts (one node, namespace nodes) put in slurm.conf: root daemons, munge,
# PMIx, no cgroups or accounting, cores as the consumable.
conf_common() {
  cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
CONF
}

write_conf() {
  local node
  # This machine as slurmd sees it (CPUs, sockets, cores, threads, memory): a node
  # described otherwise is refused or under-used.
  node=$(slurmd -C | head -n 1)
  [[ $node == NodeName=* ]] || die "slurmd -C did not describe this node: $node"
  mkdir -p "$dir/state" "$dir/spool"
  {
    cat <<CONF
# Written by slurm/local-cluster.sh: one node, this machine.
ClusterName=condense
SlurmctldHost=$(hostname -s)(127.0.0.1)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
CONF
    conf_common
    echo "$node NodeAddr=127.0.0.1 State=UNKNOWN"
    echo "PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } >"$conf"
}

answers() {
  [ -f "$conf" ] && SLURM_CONF=$conf sinfo -h >/dev/null 2>&1
}

if [ "$nodes" -gt 1 ]; then
  # shellcheck source=slurm/local-nodes.sh
  source "$here/local-nodes.sh"
  case "$action" in
    status) answers && [ "$(node_count)" -gt 1 ] ;;
    start)
      command -v slurmctld >/dev/null || die "slurmctld not found (bash tools/install-deps.sh installs slurm-wlm)"
      export SLURM_CONF=$conf
      # Up: idle, or running jobs (a node not responding shows a '*').
      if answers && [ "$(node_count)" = "$nodes" ] &&
        [ "$(sinfo -h -N -o %t | grep -cE '^(idle|mix|alloc|comp)$')" = "$nodes" ]; then
        nodes_env
        exit 0
      fi
      nodes_check
      nodes_stop
      start_munge
      # Half-built is worse than nothing: on any failure from here, tear down.
      trap 'nodes_stop' EXIT
      nodes_start "$nodes"
      for _ in $(seq 1 300); do
        if [ "$(sinfo -h -N -o %t 2>/dev/null | grep -c '^idle$')" = "$nodes" ]; then
          trap - EXIT
          nodes_env
          exit 0
        fi
        sleep 0.1
      done
      nodes_stop
      die "the $nodes nodes did not come up in 30 s; see $dir/slurmctld.log and $dir/node*.slurmd.log"
      ;;
    stop) nodes_stop ;;
    kill) nodes_kill "${victim#node}" ;;
    *) die "usage: local-cluster.sh start|status|stop|kill NODE [--nodes N]" ;;
  esac
  exit
fi

case "$action" in
  status) answers ;;
  start)
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs as their users)"
    command -v slurmctld >/dev/null || die "slurmctld not found (bash tools/install-deps.sh installs slurm-wlm)"
    export SLURM_CONF=$conf
    if answers; then
      echo "export SLURM_CONF=$conf"
      exit 0
    fi
    stop
    start_munge
    write_conf
    slurmctld -f "$conf"
    slurmd -f "$conf"
    for _ in $(seq 1 100); do
      if [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; then
        echo "export SLURM_CONF=$conf"
        exit 0
      fi
      sleep 0.1
    done
    die "the node did not come up in 10 s; see $dir/slurmctld.log and $dir/slurmd.log"
    ;;
  stop) stop ;;
  *) die "usage: local-cluster.sh start|status|stop" ;;
esac
