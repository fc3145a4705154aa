#!/bin/bash -e
# pi-gen: install the waitless .deb put in files/ (see image/pi-gen/README.md), and with
# KIOSK=1 the kiosk screen (Chromium full screen on the HDMI display).
shopt -s nullglob
debs=(files/waitless_*_arm64.deb)
if [ ${#debs[@]} -ne 1 ]; then
	echo "stage-waitless: put exactly one waitless_*_arm64.deb in $(pwd)/files (found ${#debs[@]})" >&2
	exit 1
fi
install -m 644 "${debs[0]}" "${ROOTFS_DIR}/tmp/waitless.deb"
on_chroot <<CHROOT
apt-get install -y /tmp/waitless.deb
rm -f /tmp/waitless.deb
if [ "${KIOSK:-0}" = "1" ]; then
	apt-get install -y --no-install-recommends cage chromium-browser
	# The unit runs /usr/bin/chromium; Raspberry Pi OS names it chromium-browser.
	[ -e /usr/bin/chromium ] || ln -s chromium-browser /usr/bin/chromium
	systemctl enable waitless-kiosk.service
fi
CHROOT
