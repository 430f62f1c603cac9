package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"

	"dockhand.dev/test/cluster/kubeconfig"
	"dockhand.dev/test/cluster/pki"
)

func init() {
	register("pki", "create (or keep) the CA, component certificates, service-account keys and kubeconfigs", runPKI)
}

func runPKI(args []string) error {
	fs := flag.NewFlagSet("pki", flag.ExitOnError)
	dir := bedDirFlag(fs)
	serverURL := fs.String("apiserver-url", defaultAPIServerURL, "kube-apiserver URL written into the kubeconfigs")
	_ = fs.Parse(args)
	l, err := bedLayout(*dir)
	if err != nil {
		return err
	}
	server, err := url.Parse(*serverURL)
	if err != nil || server.Scheme != "https" || server.Hostname() == "" {
		return fmt.Errorf("--apiserver-url %q: want https://host:port", *serverURL)
	}

	ca, err := pki.LoadOrCreateCA(l.PKIDir)
	if err != nil {
		return err
	}
	for name, spec := range leafSpecs(server.Hostname()) {
		if err := ca.EnsureCert(l.PKIDir, name, spec); err != nil {
			return err
		}
	}
	if err := pki.EnsureKeyPair(l.PKIDir, pki.ServiceAccountKeyName); err != nil {
		return err
	}

	// Kubeconfigs are rewritten every time: they are derived from the certs
	// kept above, and --apiserver-url may have changed.
	for path, name := range map[string]string{
		l.AdminKubeconfig:             pki.AdminName,
		l.ControllerManagerKubeconfig: pki.ControllerManagerName,
		l.SchedulerKubeconfig:         pki.SchedulerName,
	} {
		if err := writeCertKubeconfig(path, server.String(), ca.CertPEM, l.PKIDir, name); err != nil {
			return err
		}
	}
	return nil
}

// leafSpecs lists every certificate the control plane uses, by file name.
// The identities follow kubeadm's, because the default RBAC bindings
// (system:kube-controller-manager, system:kube-scheduler, system:masters)
// are written for exactly these names.
func leafSpecs(apiserverHost string) map[string]pki.Spec {
	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP)}
	if ip := net.ParseIP(apiserverHost); ip != nil {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	} else if !slices.Contains(dnsNames, apiserverHost) {
		dnsNames = append(dnsNames, apiserverHost)
	}
	return map[string]pki.Spec{
		pki.APIServerName:         {CommonName: "kube-apiserver", DNSNames: dnsNames, IPs: ips, Server: true},
		pki.AdminName:             {CommonName: "kubernetes-admin", Organizations: []string{"system:masters"}, Client: true},
		pki.ControllerManagerName: {CommonName: "system:kube-controller-manager", Client: true},
		pki.SchedulerName:         {CommonName: "system:kube-scheduler", Client: true},
		// The apiserver authenticates to kubelets (logs, exec, port-forward)
		// with this; system:masters lets the node agent authorize it however
		// it checks (kubeadm binds the kubelet-api-admin role instead).
		pki.KubeletClientName: {CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}, Client: true},
		// The apiserver's identity towards aggregated API servers. Configuring
		// it publishes requestheader-client-ca-file in the
		// extension-apiserver-authentication ConfigMap, without which the
		// delegated authentication of kube-controller-manager and
		// kube-scheduler logs an error in a retry loop.
		pki.FrontProxyName: {CommonName: frontProxyClientCN, Client: true},
	}
}

func writeCertKubeconfig(path, server string, caPEM []byte, pkiDir, name string) error {
	certPath, keyPath := pki.LeafPaths(pkiDir, name)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	return kubeconfig.Write(path, kubeconfig.File{
		Server: server,
		CAPEM:  caPEM,
		User:   kubeconfig.Credentials{ClientCertPEM: certPEM, ClientKeyPEM: keyPEM},
	})
}
