package pki

import "path/filepath"

// Layout is where the control plane's identity files live under BED_DIR.
// Every subcommand derives its paths from it so `pki` and the components that
// read the files cannot drift apart.
type Layout struct {
	BedDir string
	PKIDir string

	CACert, CAKey                       string
	APIServerCert, APIServerKey         string
	KubeletClientCert, KubeletClientKey string
	FrontProxyCert, FrontProxyKey       string
	SAKey, SAPub                        string

	AdminKubeconfig             string
	ControllerManagerKubeconfig string
	SchedulerKubeconfig         string
}

// Names of the leaf certificates under PKIDir (<name>.crt, <name>.key).
const (
	APIServerName         = "apiserver"
	KubeletClientName     = "apiserver-kubelet-client"
	FrontProxyName        = "front-proxy-client"
	AdminName             = "admin"
	ControllerManagerName = "kube-controller-manager"
	SchedulerName         = "kube-scheduler"
	ServiceAccountKeyName = "sa"
)

// BedLayout returns the layout for bedDir (pass an absolute path: the paths
// end up in component flags).
func BedLayout(bedDir string) Layout {
	pkiDir := filepath.Join(bedDir, "pki")
	l := Layout{BedDir: bedDir, PKIDir: pkiDir}
	l.CACert, l.CAKey = CAPaths(pkiDir)
	l.APIServerCert, l.APIServerKey = LeafPaths(pkiDir, APIServerName)
	l.KubeletClientCert, l.KubeletClientKey = LeafPaths(pkiDir, KubeletClientName)
	l.FrontProxyCert, l.FrontProxyKey = LeafPaths(pkiDir, FrontProxyName)
	l.SAKey = filepath.Join(pkiDir, ServiceAccountKeyName+".key")
	l.SAPub = filepath.Join(pkiDir, ServiceAccountKeyName+".pub")
	l.AdminKubeconfig = filepath.Join(bedDir, "admin.kubeconfig")
	l.ControllerManagerKubeconfig = filepath.Join(bedDir, "controller-manager.kubeconfig")
	l.SchedulerKubeconfig = filepath.Join(bedDir, "scheduler.kubeconfig")
	return l
}
