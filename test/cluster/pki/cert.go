package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Spec describes one leaf certificate. Kubernetes reads identity from the
// subject: CN is the user name and O the groups
// (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#x509-client-certificates).
type Spec struct {
	CommonName    string
	Organizations []string
	DNSNames      []string
	IPs           []net.IP
	Server        bool // ExtKeyUsageServerAuth
	Client        bool // ExtKeyUsageClientAuth
}

// LeafPaths returns where EnsureCert keeps the certificate called name.
func LeafPaths(dir, name string) (certPath, keyPath string) {
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

// renewBefore makes EnsureCert replace a certificate that is about to expire
// rather than hand out one that dies during a test run.
const renewBefore = 24 * time.Hour

// EnsureCert keeps <dir>/<name>.crt and .key if they were signed by ca, match
// spec and stay valid for a while; otherwise it writes a new pair.
func (ca *CA) EnsureCert(dir, name string, spec Spec) error {
	certPath, keyPath := LeafPaths(dir, name)
	if ca.usable(certPath, keyPath, spec) {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	der, err := ca.sign(spec, key.Public())
	if err != nil {
		return fmt.Errorf("signing %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writeAtomic(certPath, certPEM, 0o644)
}

func (ca *CA) sign(spec Spec, pub crypto.PublicKey) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organizations},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.extKeyUsages(),
	}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
}

func (s Spec) extKeyUsages() []x509.ExtKeyUsage {
	var usages []x509.ExtKeyUsage
	if s.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if s.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	return usages
}

// usable reports whether an existing pair can be kept. Any read or parse
// failure just means "regenerate": the pair is derived data.
func (ca *CA) usable(certPath, keyPath string, spec Spec) bool {
	if !exists(certPath) || !exists(keyPath) {
		return false
	}
	certs, err := certutil.CertsFromFile(certPath)
	if err != nil {
		return false
	}
	key, err := readKey(keyPath)
	if err != nil {
		return false
	}
	return ca.issued(certs[0], key, spec, time.Now())
}

func (ca *CA) issued(cert *x509.Certificate, key crypto.Signer, spec Spec, now time.Time) bool {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(renewBefore), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := cert.Verify(opts); err != nil {
		return false
	}
	return publicKeysEqual(cert.PublicKey, key.Public()) && spec.matches(cert)
}

func (s Spec) matches(cert *x509.Certificate) bool {
	if cert.Subject.CommonName != s.CommonName ||
		!sameSet(cert.Subject.Organization, s.Organizations) ||
		!sameSet(cert.DNSNames, s.DNSNames) ||
		!sameSet(cert.ExtKeyUsage, s.extKeyUsages()) {
		return false
	}
	var have, want []string
	for _, ip := range cert.IPAddresses {
		have = append(have, ip.String())
	}
	for _, ip := range s.IPs {
		want = append(want, ip.String())
	}
	return sameSet(have, want)
}

func sameSet[T interface{ ~string | ~int }](a, b []T) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
