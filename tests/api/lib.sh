# Shared set-up of the API tests: the python client (apiclient.py) needs
# python3 with jsonschema and yaml (tools/packages.txt); /dev/kvm as usual.
. "${top_srcdir:-.}/tests/microvm/lib.sh"
GUESTS=$top_builddir/tests/guests
REMOTE=$top_builddir/examples/remote/cvmm-remote
PYTHONPATH=$top_srcdir/tests/api
export PYTHONPATH top_srcdir

require_python() {
	need_cmd python3 python3
	if ! python3 -c 'import jsonschema, yaml' 2>/dev/null; then
		echo "1..0 # SKIP needs python3-jsonschema and python3-yaml"
		exit 0
	fi
}
