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
set -euo pipefail
dir=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm}
conf=$dir/slurm.conf
action=${1:-start}

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

write_conf() {
  local node
  # This machine as slurmd sees it (CPUs, sockets, cores, threads, memory): a node
  # described otherwise is refused or under-used.
  node=$(slurmd -C | head -n 1)
  [[ $node == NodeName=* ]] || die "slurmd -C did not describe this node: $node"
  mkdir -p "$dir/state" "$dir/spool"
  cat >"$conf" <<CONF
# Written by slurm/local-cluster.sh: one node, this machine.
ClusterName=condense
SlurmctldHost=$(hostname -s)(127.0.0.1)
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
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
}

answers() {
  [ -f "$conf" ] && SLURM_CONF=$conf sinfo -h >/dev/null 2>&1
}

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
