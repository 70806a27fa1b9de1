#!/bin/sh
# Make a tls_dir for migration tests with certtool (gnutls-bin): a CA, a
# server certificate for 127.0.0.1/localhost and a client certificate, under
# Cloud Hypervisor's names (ca-cert.pem, server-cert.pem, server-key.pem,
# client-cert.pem, client-key.pem).
#   mig-certs.sh DIR          a good directory
#   mig-certs.sh DIR rogue    the same names, but the client's certificate
#                             comes from another CA (the real CA is copied
#                             from DIR/../good/ca-cert.pem when it exists, so
#                             this client still trusts the real server)
# Exit 77 when certtool is missing.
set -e
dir=$1
command -v certtool >/dev/null 2>&1 || { echo "certtool not found (gnutls-bin)" >&2; exit 77; }
mkdir -p "$dir"
cd "$dir"
q() { certtool "$@" >/dev/null 2>&1; }
cat > ca.tmpl <<T
cn = "cvmm test CA $2"
ca
cert_signing_key
expiration_days = 2
T
cat > server.tmpl <<T
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
cat > client.tmpl <<T
cn = "cvmm migration source"
tls_www_client
encryption_key
signing_key
expiration_days = 2
T
q --generate-privkey --key-type=ecdsa --outfile ca-key.pem
q --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca-cert.pem
for who in server client; do
	q --generate-privkey --key-type=ecdsa --outfile $who-key.pem
	q --generate-certificate --load-privkey $who-key.pem --load-ca-certificate ca-cert.pem \
		--load-ca-privkey ca-key.pem --template $who.tmpl --outfile $who-cert.pem
done
if [ "$2" = rogue ] && [ -f ../good/ca-cert.pem ]; then
	cp ../good/ca-cert.pem ca-cert.pem
fi
rm -f ca.tmpl server.tmpl client.tmpl
test -s client-cert.pem && test -s server-cert.pem
