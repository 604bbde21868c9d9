#!/usr/bin/env bash
# Makes the certificates the TLS tests use, in DIR (tests/redis/tls_test.cc):
#   ca.{crt,key}        the CA the tests trust
#   server.{crt,key}    for 127.0.0.1, ::1 and localhost, signed by ca
#   wrong-host.{crt,key} signed by ca, for elsewhere.invalid only
#   expired.{crt,key}   signed by ca, for 127.0.0.1, valid in 2020 only
#   client.{crt,key}    a client certificate signed by ca
#   other-ca.crt        a CA that signed none of them
# Usage: make_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "make_certs.sh: failed: $*" >&2; "$@"; exit 1; }; }

key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
ca() {
  key "$1"
  quiet openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" -out "$1.crt"
}
# signed NAME SUBJECT_ALT_NAMES [EXTENDED_KEY_USAGE]: a certificate signed by ca, valid 10 years.
signed() {
  key "$1"
  quiet openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "${3:-serverAuth}" >"$1.ext"
  quiet openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
    -days 3650 -extfile "$1.ext" -out "$1.crt"
}

ca ca "resque-cpp test CA"
ca other-ca "another test CA"
signed server "IP:127.0.0.1,IP:::1,DNS:localhost"
signed wrong-host "DNS:elsewhere.invalid"
signed client "DNS:client.invalid" clientAuth

# Expired: `openssl x509 -days` cannot go back in time; `openssl ca` takes explicit dates.
key expired
quiet openssl req -new -key expired.key -subj "/CN=expired" -out expired.csr
mkdir -p ca-db
: >ca-db/index.txt
echo 01 >ca-db/serial
cat >ca-db/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
subjectAltName = IP:127.0.0.1,DNS:localhost
extendedKeyUsage = serverAuth
CNF
quiet openssl ca -batch -config ca-db/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
  -startdate 20200101000000Z -enddate 20200102000000Z -out expired.crt
chmod 600 ./*.key
