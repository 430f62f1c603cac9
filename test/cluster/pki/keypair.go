package pki

import (
	"crypto/x509"
	"encoding/pem"
	"path/filepath"

	"k8s.io/client-go/util/keyutil"
)

// EnsureKeyPair keeps or writes <dir>/<name>.key and <dir>/<name>.pub: a bare
// key pair with no certificate, which is what the service-account token
// signer needs (kube-apiserver --service-account-signing-key-file/-key-file,
// kube-controller-manager --service-account-private-key-file).
func EnsureKeyPair(dir, name string) error {
	keyPath, pubPath := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	if keyPairUsable(keyPath, pubPath) {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writeAtomic(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

func keyPairUsable(keyPath, pubPath string) bool {
	if !exists(keyPath) || !exists(pubPath) {
		return false
	}
	key, err := readKey(keyPath)
	if err != nil {
		return false
	}
	pubs, err := keyutil.PublicKeysFromFile(pubPath)
	if err != nil || len(pubs) != 1 {
		return false
	}
	return publicKeysEqual(pubs[0], key.Public())
}
