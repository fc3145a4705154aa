#!/usr/bin/env bash
# Builds a bootable SD-card image for a Raspberry Pi 3/4 (arm64) from Debian's own packages —
# the approach of Debian's raspi image-specs (Raspberry Pi OS's repositories are not needed):
#   debootstrap arm64 bookworm (binfmt + qemu-user-static) → linux-image-arm64 + raspi-firmware
#   (non-free-firmware; initramfs with MODULES=list) → waitless's arm64 .deb → hostname
#   waitless + avahi (waitless.local) → optional kiosk screen (KIOSK=1: cage + Chromium) →
#   waitless-setup.txt on the FAT partition (Wi-Fi, time zone, kiosk page, SSH key) →
#   image assembled from partition files (mkfs.vfat -C + mcopy, mkfs.ext4 -d, sfdisk, dd),
#   no loop devices needed.
# Output: target/image/waitless-pi-arm64.img (+ .sha256).
# Cache: $CACHE (default /var/cache/waitless-image, outside the clone, reused between runs):
#   base-*.tar     the debootstrapped root (~4 min to make under emulation)
#   system-*.tar   that root with the kernel, firmware and services (before waitless)
#   apt/           the downloaded .debs
# Delete the cache to rebuild from scratch (the file names carry a hash of their recipe).
# Usage (root): image/build-image.sh     env: KIOSK=1, MIRROR=http://deb.debian.org/debian,
#                                           CACHE=..., KEEP_ROOT=1 (keep the unpacked root)
set -euo pipefail
cd "$(dirname "$0")/.."
. image/lib.sh
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, chroot)" >&2; exit 1; }

SUITE=bookworm
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
CACHE=${CACHE:-/var/cache/waitless-image}
KIOSK=${KIOSK:-0}
OUT=target/image
IMG=$OUT/waitless-pi-arm64.img
FAT_MB=256
export TIMINGS=${TIMINGS:-}
total_start=$(now)

# The packages of each cached layer: changing a list changes the hash, hence a new layer.
BASE_INCLUDE=systemd,systemd-sysv,dbus,adduser,ca-certificates,iproute2,udev,apt-utils,tzdata,kmod,e2fsprogs
SYSTEM_PACKAGES=(linux-image-arm64 raspi-firmware firmware-brcm80211 initramfs-tools
  systemd-timesyncd systemd-resolved avahi-daemon libnss-mdns wpasupplicant iw openssh-server
  dosfstools fdisk curl less nano espeak-ng alsa-utils)
[ "$KIOSK" = 1 ] && SYSTEM_PACKAGES+=(cage chromium fonts-noto-core)
RECIPE_VERSION=1   # bump when the system layer's configuration below changes
base_key=$(echo "$SUITE $BASE_INCLUDE" | sha256sum | cut -c1-12)
system_key=$(echo "$base_key ${SYSTEM_PACKAGES[*]} $RECIPE_VERSION" | sha256sum | cut -c1-12)

echo "== tools"
ensure_packages debootstrap qemu-user-static binfmt-support dosfstools mtools fdisk e2fsprogs debian-archive-keyring
mkdir -p "$CACHE/apt" "$OUT"
# Run arm64 programs in the chroot through qemu-user (binfmt_misc).
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then mount -t binfmt_misc binfmt_misc "$binfmt"; fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
  grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
fi


work=$(mktemp -d /var/tmp/waitless-image.XXXXXX)
root=$work/root
mounts=()
cleanup() {
  local i
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
  if [ -z "${KEEP_ROOT:-}" ]; then rm -rf "$work"; else echo "root kept in $root"; fi
}
trap cleanup EXIT
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounts+=("$2"); }
in_root() { LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
# apt in the chroot: never ask; keep the configuration files written here (conffiles).
APT_INSTALL=(apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
mount_api() {
  mount -t proc proc "$root/proc"; mounts+=("$root/proc")
  mount -t sysfs sysfs "$root/sys"; mounts+=("$root/sys")
  bind /dev "$root/dev"
  mount -t devpts devpts "$root/dev/pts" -o gid=5,mode=620,ptmxmode=666 2>/dev/null && mounts+=("$root/dev/pts") || true
  bind "$CACHE/apt" "$root/var/cache/apt/archives"
}
umount_api() {
  local i
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -l "${mounts[$i]}" || true; done
  mounts=()
}

# --- layer 1: debootstrap ------------------------------------------------------------------
base_tar=$CACHE/base-$SUITE-arm64-$base_key.tar
if [ ! -f "$base_tar" ]; then
  echo "== debootstrap $SUITE arm64 (not cached)"
  start=$(now)
  mkdir -p "$root"
  debootstrap --arch=arm64 --variant=minbase --include="$BASE_INCLUDE" \
    --cache-dir="$CACHE/apt" "$SUITE" "$root" "$MIRROR"
  rm -f "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" --numeric-owner --xattrs -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$root"
  took "debootstrap" "$start"
fi

# --- layer 2: kernel, firmware, services ---------------------------------------------------
system_tar=$CACHE/system-$SUITE-arm64-kiosk$KIOSK-$system_key.tar
if [ ! -f "$system_tar" ]; then
  echo "== system layer (not cached): ${SYSTEM_PACKAGES[*]}"
  start=$(now)
  mkdir -p "$root"
  tar -C "$root" --numeric-owner --xattrs -xf "$base_tar"
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main contrib non-free-firmware
deb $MIRROR $SUITE-updates main contrib non-free-firmware
deb $SECURITY $SUITE-security main contrib non-free-firmware
SOURCES
  # Services must not start in the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
  # The initramfs: only the modules listed (the default, MODULES=most, takes very long under
  # emulation) — SD card (Pi 3: mmc_bcm2835/sdhost, Pi 4: sdhci_iproc) and virtio (qemu).
  mkdir -p "$root/etc/initramfs-tools"
  echo "MODULES=list" >"$root/etc/initramfs-tools/initramfs.conf.waitless"
  cat >"$root/etc/initramfs-tools/modules" <<'MODS'
ext4
crc32c_generic
mmc_block
sdhci_iproc
mmc_bcm2835
bcm2835_dma
reset_raspberrypi
virtio_pci
virtio_blk
virtio_mmio
MODS
  # raspi-firmware: the root by label, fsck that repairs on its own, no console blanking.
  mkdir -p "$root/etc/default"
  echo 'ROOTPART=LABEL=RASPIROOT' >"$root/etc/default/raspi-firmware"
  echo 'fsck.repair=yes consoleblank=0' >"$root/etc/default/raspi-extra-cmdline"
  mkdir -p "$work/firmware"
  bind "$work/firmware" "$root/boot/firmware"
  mount_api
  in_root apt-get update -q
  # initramfs.conf comes with initramfs-tools: install it first, then set MODULES=list.
  in_root "${APT_INSTALL[@]}" initramfs-tools
  sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
  rm -f "$root/etc/initramfs-tools/initramfs.conf.waitless"
  in_root "${APT_INSTALL[@]}" "${SYSTEM_PACKAGES[@]}"
  in_root apt-get clean
  umount_api
  rm -f "$root/usr/sbin/policy-rc.d"
  # The firmware partition's files (kernel, initrd, dtbs, config.txt, cmdline.txt) go into the
  # layer too, under /boot/firmware.
  cp -a "$work/firmware/." "$root/boot/firmware/"
  rm -rf "$work/firmware"
  tar -C "$root" --numeric-owner --xattrs -cf "$system_tar.tmp" . && mv "$system_tar.tmp" "$system_tar"
  rm -rf "$root"
  took "system layer (kernel, firmware, services)" "$start"
fi

# --- layer 3: waitless and the box's configuration ----------------------------------------
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
deb=target/deb/waitless_${version}-1_arm64.deb
[ -f "$deb" ] || image/build-deb.sh arm64
echo "== waitless and configuration ($deb)"
start=$(now)
mkdir -p "$root"
tar -C "$root" --numeric-owner --xattrs -xf "$system_tar"
mkdir -p "$work/firmware"
mv "$root/boot/firmware/"* "$work/firmware/" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
bind "$work/firmware" "$root/boot/firmware"
mount_api
cp "$deb" "$root/tmp/waitless.deb"
in_root "${APT_INSTALL[@]}" /tmp/waitless.deb
rm -f "$root/tmp/waitless.deb"
umount_api
rm -f "$root/usr/sbin/policy-rc.d"

echo waitless >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	waitless waitless.local
::1		localhost ip6-localhost ip6-loopback
HOSTS
cat >"$root/etc/fstab" <<'FSTAB'
# The root is checked (fsck, repairing on its own: fsck.repair=yes) at every boot. The
# firmware partition is read-only (a power cut cannot damage what the Pi boots from); apt
# remounts it writable while it upgrades the kernel (/etc/apt/apt.conf.d/50waitless-firmware).
LABEL=RASPIROOT  /              ext4  rw,noatime,errors=remount-ro                   0 1
LABEL=RASPIFIRM  /boot/firmware vfat  ro,nofail,x-systemd.device-timeout=45s,umask=0022 0 2
FSTAB
cat >"$root/etc/apt/apt.conf.d/50waitless-firmware" <<'APT'
// /boot/firmware is mounted read-only: writable while dpkg runs (kernel and firmware upgrades).
DPkg::Pre-Invoke { "if mountpoint -q /boot/firmware; then mount -o remount,rw /boot/firmware; fi"; };
DPkg::Post-Invoke { "if mountpoint -q /boot/firmware; then mount -o remount,ro /boot/firmware || true; fi"; };
APT
# Network: DHCP on Ethernet and Wi-Fi (systemd-networkd), names via resolved, mDNS via avahi.
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=e*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/20-wired.network"
printf '[Match]\nName=wl*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/25-wireless.network"
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# wpa_supplicant for wlan0 once waitless-setup has written its configuration.
mkdir -p "$root/etc/systemd/system/wpa_supplicant@.service.d"
cat >"$root/etc/systemd/system/wpa_supplicant@.service.d/waitless.conf" <<'DROPIN'
[Unit]
After=waitless-setup.service
ConditionPathExists=/etc/wpa_supplicant/wpa_supplicant-%I.conf
DROPIN
# SSH: keys only; each box makes its own host keys at its first boot.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  >"$root/etc/systemd/system/ssh.service.d/waitless.conf"
printf 'PasswordAuthentication no\nPermitRootLogin prohibit-password\n' >"$root/etc/ssh/sshd_config.d/waitless.conf"
# The boot-time settings from the FAT partition.
cp -a image/rootfs/. "$root/"
# The root file system fills the SD card at the first boot.
cat >"$root/etc/systemd/system/waitless-grow-root.service" <<'UNIT'
[Unit]
Description=Grow the root partition to fill the SD card (first boot)
ConditionPathExists=/etc/waitless-grow-root
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/waitless-grow-root
ExecStartPost=/bin/rm -f /etc/waitless-grow-root

[Install]
WantedBy=multi-user.target
UNIT
cat >"$root/usr/local/sbin/waitless-grow-root" <<'GROW'
#!/bin/sh
# Grows the root partition and its file system to the end of the disk (once).
dev=$(findmnt -no SOURCE /)
name=$(basename "$dev")
[ -e "/sys/class/block/$name/partition" ] || { echo "root $dev is not a partition: nothing to grow"; exit 0; }
part=$(cat "/sys/class/block/$name/partition")
disk=/dev/$(basename "$(readlink -f "/sys/class/block/$name/..")")
# The partition to the end of the disk (the kernel is told with partx), then the file system.
echo ", +" | sfdisk -q --no-reread --no-tell-kernel -N "$part" "$disk" || exit 0
partx -u -n "$part" "$disk"
resize2fs "$dev"
GROW
chmod 755 "$root/usr/local/sbin/waitless-grow-root"
touch "$root/etc/waitless-grow-root"
systemd_enable() { local unit=$1 target=$2; mkdir -p "$root/etc/systemd/system/$target.wants"; ln -sf "/etc/systemd/system/$unit" "$root/etc/systemd/system/$target.wants/$unit"; }
systemd_enable waitless-setup.service sysinit.target
systemd_enable waitless-grow-root.service multi-user.target
in_root systemctl enable systemd-networkd systemd-resolved systemd-timesyncd >/dev/null 2>&1
if [ "$KIOSK" = 1 ]; then
  in_root systemctl enable waitless-kiosk.service >/dev/null 2>&1
  in_root systemctl set-default graphical.target >/dev/null 2>&1
fi
# The administrator logs in on the console as root with no password and sets one.
in_root passwd -d root >/dev/null
# A journal that survives power cuts (and the reboot after one).
mkdir -p "$root/var/log/journal"
cat >"$work/firmware/waitless-setup.txt" <<SETUP
# waitless box settings, read at every boot (docs/install.md). Leave a value empty to keep
# what the box has. The Wi-Fi password is replaced by "(saved on the box)" once saved.
wifi_ssid =
wifi_psk =
# Two-letter country code of the Wi-Fi rules, e.g. IN, GB, US.
wifi_country =
# IANA time zone, e.g. Asia/Kolkata, Europe/London.
timezone =
# The page the screen on the box shows (images built with KIOSK=1), e.g.
# http://localhost/display or http://localhost/kiosk
kiosk_url = http://localhost/display
SETUP
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root/etc/machine-id"
: >"$root/etc/machine-id"
took "waitless and configuration" "$start"

# --- the image -----------------------------------------------------------------------------
echo "== assemble $IMG"
start=$(now)
used=$(du -sm --apparent-size "$root" | cut -f1)
ROOT_MB=$(( used * 13 / 10 + 400 ))
rm -f "$work/fat.img" "$work/root.ext4" "$IMG"
mkfs.vfat -C -F 32 -n RASPIFIRM "$work/fat.img" $(( FAT_MB * 1024 )) >/dev/null
mcopy -s -i "$work/fat.img" "$work/firmware/"* ::/
mkfs.ext4 -q -L RASPIROOT -d "$root" "$work/root.ext4" "${ROOT_MB}M"
truncate -s $(( (1 + FAT_MB + ROOT_MB) * 1024 * 1024 )) "$IMG"
sfdisk -q "$IMG" <<PARTS
label: dos
unit: sectors
start=2048, size=$(( FAT_MB * 2048 )), type=c, bootable
start=$(( 2048 + FAT_MB * 2048 )), size=$(( ROOT_MB * 2048 )), type=83
PARTS
dd if="$work/fat.img" of="$IMG" bs=1M seek=1 conv=notrunc status=none
dd if="$work/root.ext4" of="$IMG" bs=1M seek=$(( 1 + FAT_MB )) conv=notrunc status=none
(cd "$OUT" && sha256sum "$(basename "$IMG")" >"$(basename "$IMG").sha256")
took "assemble image" "$start"
ls -l "$IMG"
took "build-image total" "$total_start"
