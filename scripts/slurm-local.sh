#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests of `gpunet slurm` (run as root; needs Debian's slurm-wlm and munge).
#
#   scripts/slurm-local.sh start DIR   # writes DIR/slurm.conf, starts munged (unless one runs), slurmctld and slurmd;
#                                      # waits until the node is idle; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh stop DIR    # stops, by their process ids, the daemons that `start DIR` started
#
# Exit codes: 0 started or stopped; 3 Slurm or munge is not installed, or the cluster did not come up (the reason is printed).
set -uo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

stop() {
  for name in slurmd slurmctld munged; do
    f="$dir/$name.started"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$f"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

for tool in slurmctld slurmd sinfo sbatch munged; do
  command -v "$tool" >/dev/null 2>&1 || { echo "slurm-local: $tool is not installed (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-local: must run as root (SlurmUser=root)" >&2; exit 3; }

host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool"
cat >"$dir/slurm.conf" <<CONF
ClusterName=gpunet-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"

# munge: reuse a running one, else start it as the munge user with its socket directory.
if ! munge -n </dev/null >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  runuser -u munge -- munged --force || { echo "slurm-local: munged did not start" >&2; exit 3; }
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cat /run/munge/munged.pid >"$dir/munged.started"
fi

slurmctld -f "$SLURM_CONF" || { echo "slurm-local: slurmctld did not start (see $dir/slurmctld.log)" >&2; stop; exit 3; }
for _ in $(seq 50); do [ -s "$dir/slurmctld.pid" ] && break; sleep 0.1; done
cp "$dir/slurmctld.pid" "$dir/slurmctld.started"
slurmd -f "$SLURM_CONF" || { echo "slurm-local: slurmd did not start (see $dir/slurmd.log)" >&2; stop; exit 3; }
for _ in $(seq 50); do [ -s "$dir/slurmd.pid" ] && break; sleep 0.1; done
cp "$dir/slurmd.pid" "$dir/slurmd.started"

for _ in $(seq 60); do
  state=$(sinfo -h -N -o %T 2>/dev/null | head -n 1)
  case "$state" in idle*|mixed*|allocated*) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  sleep 0.5
done
echo "slurm-local: the node did not become idle (state '${state:-none}'; see $dir/slurmctld.log and $dir/slurmd.log)" >&2
stop
exit 3
