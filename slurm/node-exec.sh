#!/usr/bin/env bash
# Runs a command on a node of `slurm/local-cluster.sh start --nodes N`, as ssh
# would on a real cluster: node-exec.sh HOST COMMAND... (HOST: node<i> or its
# address). It is Open MPI's remote shell there (OMPI_MCA_plm_rsh_agent, which
# `start` prints), so `mpirun --host node1,node2` starts its daemons on the nodes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${CONDENSE_SLURM_DIR:-/tmp/condense-slurm-nodes}
die() {
  echo "node-exec: $*" >&2
  exit 1
}
# shellcheck source=slurm/local-nodes.sh
source "$here/local-nodes.sh"
[ $# -ge 2 ] || die "usage: node-exec.sh HOST COMMAND..."
host=$1
shift
for ((i = 1; i <= $(node_count); i++)); do
  if [ "$host" = "node$i" ] || [ "$host" = "$(node_addr "$i")" ]; then
    # Like ssh: the words are one command line for the node's shell.
    on_node "$i" sh -c "$*"
    exit
  fi
done
die "no node '$host' in the cluster of $dir (nodes: node1..node$(node_count))"
