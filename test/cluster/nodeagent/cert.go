package nodeagent

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"

	certutil "k8s.io/client-go/util/cert"
)

// servingCert loads or creates the node's self-signed serving certificate,
// as a kubelet started without --tls-cert-file does (kubelet.crt/kubelet.key
// in its cert dir).
func (k *nodeKubelet) servingCert() (tls.Certificate, error) {
	dir := k.lay.nodeDir(k.spec.Name)
	certFile, keyFile := filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key")
	if ok, _ := certutil.CanReadCertAndKey(certFile, keyFile); !ok {
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(k.spec.Name, []net.IP{net.ParseIP(hostIP)}, []string{k.spec.Name})
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("generate serving certificate: %w", err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}
