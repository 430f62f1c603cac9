// Package kubeconfig writes the single-cluster, single-user kubeconfig files
// the test bed hands to its components, to tests and to the dispatcher.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ClusterName is the cluster, user and context name in every bed kubeconfig,
// so tests can rely on `--context dockhand-testbed` if they merge files.
const ClusterName = "dockhand-testbed"

// Credentials is the one user of a kubeconfig: either a client certificate
// or a bearer token.
type Credentials struct {
	ClientCertPEM []byte
	ClientKeyPEM  []byte
	Token         string
}

// File is everything a bed kubeconfig holds. Data is embedded rather than
// referenced by path so the file still works when copied into a container or
// read from another working directory.
type File struct {
	Server    string
	CAPEM     []byte
	User      Credentials
	Namespace string // optional default namespace for the context
}

// Build returns the kubeconfig for f.
func Build(f File) (*clientcmdapi.Config, error) {
	if f.Server == "" || len(f.CAPEM) == 0 {
		return nil, errors.New("kubeconfig needs a server URL and the cluster CA")
	}
	hasCert := len(f.User.ClientCertPEM) > 0 && len(f.User.ClientKeyPEM) > 0
	if hasCert == (f.User.Token != "") {
		return nil, errors.New("kubeconfig needs exactly one of a client certificate+key or a token")
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ClusterName] = &clientcmdapi.Cluster{Server: f.Server, CertificateAuthorityData: f.CAPEM}
	cfg.AuthInfos[ClusterName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: f.User.ClientCertPEM,
		ClientKeyData:         f.User.ClientKeyPEM,
		Token:                 f.User.Token,
	}
	cfg.Contexts[ClusterName] = &clientcmdapi.Context{Cluster: ClusterName, AuthInfo: ClusterName, Namespace: f.Namespace}
	cfg.CurrentContext = ClusterName
	return cfg, nil
}

// Write builds f and writes it to path (mode 0600: it holds credentials).
func Write(path string, f File) error {
	cfg, err := Build(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// Load reads a kubeconfig into a client config; the error names the file so
// a wrong --kubeconfig is obvious.
func Load(path string) (*rest.Config, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("kubeconfig: %w (run `testcluster pki` first?)", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// CAPEM returns the cluster CA a client config trusts, whether it was
// embedded or referenced as a file.
func CAPEM(cfg *rest.Config) ([]byte, error) {
	if len(cfg.TLSClientConfig.CAData) > 0 {
		return cfg.TLSClientConfig.CAData, nil
	}
	if cfg.TLSClientConfig.CAFile != "" {
		return os.ReadFile(cfg.TLSClientConfig.CAFile)
	}
	return nil, errors.New("kubeconfig has no certificate-authority; the bed's kubeconfigs always embed one")
}
