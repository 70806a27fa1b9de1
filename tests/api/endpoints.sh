#!/bin/sh
# Every endpoint in every state with good and hostile input while the
# hello guest runs and re-checks its memory (endpoints.py); every answer
# is validated against docs/api/cvmm.yaml.
. "${top_srcdir:-.}/tests/api/lib.sh"
require_kvm
require_python
timeout 120 python3 "$top_srcdir/tests/api/endpoints.py" "$MICROVM" "$GUESTS/hello.img" "$TMP"
exit $?
