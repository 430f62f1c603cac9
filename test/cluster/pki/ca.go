package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
	// clockSkew back-dates NotBefore so a certificate made a moment ago is
	// already valid for a process whose clock reads slightly earlier.
	clockSkew = 5 * time.Minute
)

// CA is the bed's single certificate authority: it signs the apiserver's
// serving certificate and every client certificate, and kube-controller-manager
// uses it as the cluster signer for CSRs.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is ca.crt as written, for embedding in kubeconfigs.
	CertPEM []byte
}

// CAPaths returns where LoadOrCreateCA keeps the CA under dir.
func CAPaths(dir string) (certPath, keyPath string) {
	return filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
}

// LoadOrCreateCA returns the CA in dir (ca.crt, ca.key), creating it if
// neither file exists.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath, keyPath := CAPaths(dir)
	switch {
	case exists(certPath) && exists(keyPath):
		return loadCA(certPath, keyPath)
	case exists(certPath) || exists(keyPath):
		return nil, fmt.Errorf("only one of %s and %s exists; delete %s to start the bed with a new CA", certPath, keyPath, dir)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "dockhand-testbed-ca"},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return nil, err
	}
	// Key first: a CA cert without its key is the unrecoverable half.
	if err := writeKey(keyPath, key); err != nil {
		return nil, err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

func loadCA(certPath, keyPath string) (*CA, error) {
	certs, err := certutil.CertsFromFile(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(certs[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s; delete both to start the bed with a new CA", keyPath, certPath)
	}
	certPEM, err := certutil.EncodeCertificates(certs[0])
	if err != nil {
		return nil, err
	}
	return &CA{Cert: certs[0], Key: key, CertPEM: certPEM}, nil
}

func newSerial() *big.Int {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		panic("pki: no randomness for a serial number: " + err.Error())
	}
	return n
}
