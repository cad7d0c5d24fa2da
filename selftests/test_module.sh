# SPDX-License-Identifier: GPL-2.0
# Loading and unloading the module.

modprobe -r chpox 2>/dev/null
check "modprobe chpox loads the module" modprobe chpox
check "/proc/chpox exists after load" test -e /proc/chpox
expect_eq "/proc/chpox is readable and writable by everyone" "666" "$(stat -c %a /proc/chpox)"
expect_eq "a fresh module lists no registration" "" "$(cat /proc/chpox)"
check "modprobe -r chpox unloads it" modprobe -r chpox
check "/proc/chpox is gone after unload" test ! -e /proc/chpox
cycles_ok=1
for _ in 1 2 3 4 5; do
	modprobe chpox && modprobe -r chpox || cycles_ok=0
done
expect_eq "five load/unload cycles succeed" 1 "$cycles_ok"
check "the module loads again" modprobe chpox
