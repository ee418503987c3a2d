#!/usr/bin/env bash
# mkbundle.sh DIR [HUSK]: a busybox-static OCI bundle in DIR: rootfs with one
# symlink per applet, and config.json from `husk spec` (terminal off, `sh`).
set -euo pipefail
dir=$1
husk=${2:-husk}
busybox=${HUSK_BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || { echo "mkbundle: no busybox at $busybox (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/rootfs"/{bin,proc,dev,sys,tmp,etc,root}
cp "$busybox" "$dir/rootfs/bin/busybox"
for a in $("$busybox" --list); do
    [[ $a == busybox ]] || ln -sf busybox "$dir/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$husk" spec --bundle "$dir"
# No terminal: the demo and scripts read the container's output from pipes.
sed -i 's/"terminal": true/"terminal": false/' "$dir/config.json"
