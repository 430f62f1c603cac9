// Package pki creates and reuses the test bed's certificate authority and the
// certificates and keys signed by it. Every function keeps a file that is
// still usable, so re-running the bed keeps the identities that clients have
// already cached.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/util/keyutil"
)

// writeAtomic replaces path in one rename so that a component starting
// concurrently (the node agent reads the CA too) never reads half a PEM file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// newKey makes a P-256 key: every Kubernetes component accepts ECDSA for
// serving, client and service-account signing keys (ES256), and it is much
// cheaper than RSA on the bed's two cores.
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func writeKey(path string, key crypto.Signer) error {
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, 0o600)
}

func readKey(path string) (crypto.Signer, error) {
	raw, err := keyutil.PrivateKeyFromFile(path)
	if err != nil {
		return nil, err
	}
	key, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key type %T cannot sign; delete it to regenerate", path, raw)
	}
	return key, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
