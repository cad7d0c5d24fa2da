modprobe chpox
cd /tmp
chpox-testprog counter 100 > c.out &
app=$!
sleep 2
kill -STOP $app
chpoxctl add $app SIGUSR2 1 /tmp/c.dump
kill -USR2 $app; kill -CONT $app
sleep 3
cat /proc/chpox
kill -9 $app; wait $app 2>/dev/null
ld-chpox --info /tmp/c.dump | head -30
ld-chpox /tmp/c.dump; echo "ld-chpox exit $?"
tail -3 c.out
dmesg | tail -20
