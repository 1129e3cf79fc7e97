#!/usr/bin/env bash
# A real one-node Slurm on localhost for the tests (Debian's slurm-wlm; see the README's tests section).
#   bash envs/slurm-localhost.sh install      # apt-get install slurm-wlm if missing (root)
#   bash envs/slurm-localhost.sh start WORK   # write /etc/slurm/slurm.conf, start slurmctld + slurmd, wait idle
#   bash envs/slurm-localhost.sh stop WORK    # cancel jobs, wait for an empty queue, stop the daemons by pid
set -euo pipefail
cmd=${1:?install, start or stop}

case "$cmd" in
install)
    command -v slurmctld >/dev/null && exit 0
    apt-get install -y --no-install-recommends slurm-wlm >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends slurm-wlm >/dev/null; }
    ;;
start)
    work=$(realpath -m "${2:?WORK folder}")
    mkdir -p "$work"/{state,spool,run,log} /etc/slurm
    mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    # the default path: snakemake's slurm jobstep strips SLURM_CONF before its inner srun
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=5
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
MailProg=/bin/true
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$work/log/jobcomp.txt
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld
    slurmd -N localhost
    for _ in $(seq 150); do
        [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ] && exit 0
        sleep 0.2
    done
    echo "slurm-localhost: the node did not become idle; see $work/log" >&2
    exit 1
    ;;
stop)
    work=$(realpath -m "${2:?WORK folder}")
    scancel --user "$(id -un)" 2>/dev/null || true
    for _ in $(seq 100); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
    for daemon in slurmd slurmctld; do
        pidfile="$work/run/$daemon.pid"
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for _ in $(seq 100); do
        alive=0
        for daemon in slurmd slurmctld; do
            pidfile="$work/run/$daemon.pid"
            [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && exit 0
        sleep 0.1
    done
    ;;
*) echo "usage: $0 install | start WORK | stop WORK" >&2; exit 2 ;;
esac
