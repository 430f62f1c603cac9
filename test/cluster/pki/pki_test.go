package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

func TestEnsureCertKeepsUsablePairAndReplacesStaleOne(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{CommonName: "kubernetes-admin", Organizations: []string{"system:masters"}, Client: true}
	if err := ca.EnsureCert(dir, "admin", spec); err != nil {
		t.Fatal(err)
	}
	certPath, _ := LeafPaths(dir, "admin")
	first := read(t, certPath)

	if err := ca.EnsureCert(dir, "admin", spec); err != nil {
		t.Fatal(err)
	}
	if string(read(t, certPath)) != string(first) {
		t.Fatal("a usable certificate was replaced")
	}

	spec.Organizations = []string{"system:nodes"}
	if err := ca.EnsureCert(dir, "admin", spec); err != nil {
		t.Fatal(err)
	}
	if string(read(t, certPath)) == string(first) {
		t.Fatal("a certificate with the wrong groups was kept")
	}
}

func TestEnsureCertReplacesCertFromAnotherCA(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	caA, _ := LoadOrCreateCA(dirA)
	caB, _ := LoadOrCreateCA(dirB)
	spec := Spec{CommonName: "x", Client: true}
	if err := caA.EnsureCert(dirA, "x", spec); err != nil {
		t.Fatal(err)
	}
	if err := caB.EnsureCert(dirA, "x", spec); err != nil {
		t.Fatal(err)
	}
	certPath, _ := LeafPaths(dirA, "x")
	certs, err := certutil.CertsFromFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs[0].CheckSignatureFrom(caB.Cert); err != nil {
		t.Fatalf("certificate not re-signed by the current CA: %v", err)
	}
}

func TestServingCertVerifiesForEveryName(t *testing.T) {
	dir := t.TempDir()
	ca, _ := LoadOrCreateCA(dir)
	spec := Spec{CommonName: "kube-apiserver", DNSNames: []string{"localhost", "kubernetes.default.svc"},
		IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}, Server: true}
	if err := ca.EnsureCert(dir, "apiserver", spec); err != nil {
		t.Fatal(err)
	}
	certPath, _ := LeafPaths(dir, "apiserver")
	certs, _ := certutil.CertsFromFile(certPath)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, name := range []string{"localhost", "kubernetes.default.svc", "127.0.0.1", "10.96.0.1"} {
		if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoadOrCreateCAReusesAndRejectsHalfCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Cert.Equal(b.Cert) {
		t.Fatal("existing CA was replaced")
	}
	if time.Until(a.Cert.NotAfter) < 365*24*time.Hour {
		t.Fatal("CA expires too soon for a long-lived bed")
	}
	_, keyPath := CAPaths(dir)
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Fatal("a CA without its key was accepted")
	}
}

func TestEnsureKeyPairIsStable(t *testing.T) {
	dir := t.TempDir()
	if err := EnsureKeyPair(dir, "sa"); err != nil {
		t.Fatal(err)
	}
	first := read(t, filepath.Join(dir, "sa.pub"))
	if err := EnsureKeyPair(dir, "sa"); err != nil {
		t.Fatal(err)
	}
	if string(read(t, filepath.Join(dir, "sa.pub"))) != string(first) {
		t.Fatal("service-account key replaced; every issued token would become invalid")
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
