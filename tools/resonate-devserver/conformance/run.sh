#!/usr/bin/env bash
# usage: run.sh baseline|envurl|envurl-per-test|adapter|adapter-normalized
# (docs/conformance.md; writes $CONFORMANCE_DIR/<mode>.{log,xml})
# Every mode runs inside a fresh network namespace (unshare -n) that has only loopback:
# nothing in it can reach a host other than 127.0.0.1/::1.
set -u
mode=$1
dir=${CONFORMANCE_DIR:-/tmp/conformance}  # the SDK's checkout (sdk/) and its venv (venv/)
here=$(cd "$(dirname "$0")" && pwd)
cd $dir/sdk
PYTEST=($dir/venv/bin/python -m pytest -p no:cacheprovider --timeout 60 -q -rfEs
        --junitxml=$dir/$mode.xml)
case $mode in
  baseline) inner="exec ${PYTEST[*]}" ;;
  envurl)   # the SDK's own switch: Resonate() with no url/network reads RESONATE_URL
    inner="${DOCFLOW_RESONATE:-docflow-resonate} dev --server-port 18401 --observability-metrics-port 0 \
             >$dir/envurl-server.log 2>&1 & srv=\$!
           until $dir/venv/bin/python -c 'import urllib.request as u; u.build_opener(u.ProxyHandler({})).open(\"http://127.0.0.1:18401/health\", timeout=1)' 2>/dev/null; do sleep 0.1; done
           RESONATE_URL=http://127.0.0.1:18401 ${PYTEST[*]}; rc=\$?; kill \$srv; wait \$srv; exit \$rc" ;;
  adapter|adapter-normalized|envurl-per-test)  # per-test dev servers via the plugin; logs in devserver-logs-<mode>/
    m=all; [ $mode = envurl-per-test ] && m=envurl; n=0; [ $mode = adapter-normalized ] && n=1
    rm -rf $dir/devserver-logs-$mode
    inner="DEVSERVER_MODE=$m DEVSERVER_NORMALIZE=$n DEVSERVER_LOGS=$dir/devserver-logs-$mode \
           PYTHONPATH=$here exec ${PYTEST[*]} -p devserver_plugin" ;;
esac
env -u RESONATE_URL -u RESONATE_HOST -u RESONATE_PORT timeout 1200 \
  unshare -n bash -c "ip link set lo up || exit 1; $inner" > $dir/$mode.log 2>&1
rc=$?; echo "rc=$rc"; tail -3 $dir/$mode.log
