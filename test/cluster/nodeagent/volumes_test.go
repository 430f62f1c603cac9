package nodeagent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetupVolumes(t *testing.T) {
	root := t.TempDir()
	sock := filepath.Join(root, "docker.sock")
	os.WriteFile(sock, nil, 0o600)
	client := fake.NewClientset()
	var tokenReq *authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tokenReq = a.(k8stesting.CreateActionImpl).GetObject().(*authenticationv1.TokenRequest)
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "jwt"}}, nil
	})
	h := &volumeHost{client: client, objects: testObjects(), dockerSock: sock, hostPathRoot: filepath.Join(root, "hostpath"), envCtx: testEnvContext()}
	pod := testPod()
	pod.Spec.Volumes = []v1.Volume{
		{Name: "sock", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}},
		{Name: "pipe", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: dockerEngineNamedPipe}}},
		{Name: "cache", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: `C:\cache`, Type: ptr.To(v1.HostPathDirectoryOrCreate)}}},
		{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		{Name: "reg", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "reg", Items: []v1.KeyToPath{{Key: "pass", Path: "auth/pass", Mode: ptr.To[int32](0o600)}}}}},
		{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "optional", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "absent", Optional: ptr.To(true)}}},
		{Name: "api", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
			{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token", Audience: "dockhand", ExpirationSeconds: ptr.To[int64](3600)}},
			{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Items: []v1.KeyToPath{{Key: "TAG", Path: "tag"}}}},
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
				{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			}}},
		}}}},
	}
	dirs := podDirs{root: filepath.Join(root, "pods", "u-1")}
	mounts, warnings, err := h.setupVolumes(context.Background(), pod, dirs)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("setupVolumes: %v %v", err, warnings)
	}
	if mounts["sock"] != sock || mounts["pipe"] != sock {
		t.Errorf("docker socket mounts = %q %q", mounts["sock"], mounts["pipe"])
	}
	if want := filepath.Join(root, "hostpath", "c", "cache"); mounts["cache"] != want {
		t.Errorf("hostPath = %q, want %q", mounts["cache"], want)
	}
	if target, _ := os.Readlink(dirs.volume("cache")); target != mounts["cache"] {
		t.Errorf("volume link = %q", target)
	}
	if got := readFile(t, filepath.Join(mounts["reg"], "auth", "pass")); got != "p" {
		t.Errorf("secret item = %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(mounts["reg"], "auth", "pass")); fi.Mode().Perm() != 0o600 {
		t.Errorf("secret item mode = %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(mounts["reg"], "user")); !os.IsNotExist(err) {
		t.Error("secret key outside items was written")
	}
	if got := readFile(t, filepath.Join(mounts["cfg"], "REGISTRY")); got != "127.0.0.1:15000" {
		t.Errorf("configMap key = %q", got)
	}
	if got := readFile(t, filepath.Join(mounts["api"], "token")); got != "jwt" {
		t.Errorf("token = %q", got)
	}
	if tokenReq == nil || tokenReq.Spec.BoundObjectRef.UID != pod.UID || tokenReq.Spec.Audiences[0] != "dockhand" {
		t.Errorf("token request = %+v", tokenReq)
	}
	if got := readFile(t, filepath.Join(mounts["api"], "tag")) + readFile(t, filepath.Join(mounts["api"], "namespace")); got != "1ci" {
		t.Errorf("projected configMap+downwardAPI = %q", got)
	}
	if got := readFile(t, filepath.Join(mounts["api"], "labels")); got != `app="b"` {
		t.Errorf("labels = %q", got)
	}

	// Mappings of a container: subPath, subPathExpr, termination log.
	c := &v1.Container{Name: "c", VolumeMounts: []v1.VolumeMount{
		{Name: "pipe", MountPath: dockerEngineNamedPipe},
		{Name: "scratch", MountPath: `C:\work`, SubPathExpr: "$(POD)"},
	}}
	m, err := containerMappings(c, mounts, []v1.EnvVar{{Name: "POD", Value: "build-x"}}, "/tl")
	if err != nil {
		t.Fatal(err)
	}
	rw := newPathRewriter(m)
	if got := rw.rewrite(`C:\work\out`); got != filepath.Join(mounts["scratch"], "build-x", "out") {
		t.Errorf("subPathExpr mapping = %q", got)
	}
	if got := rw.rewrite("/dev/termination-log"); got != "/tl" {
		t.Errorf("termination log mapping = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(mounts["scratch"], "build-x")); err != nil || !fi.IsDir() {
		t.Error("subPath dir not created")
	}
}

func TestSetupVolumesErrors(t *testing.T) {
	root := t.TempDir()
	h := &volumeHost{client: fake.NewClientset(), objects: testObjects(), dockerSock: filepath.Join(root, "missing.sock"), hostPathRoot: root, envCtx: testEnvContext()}
	dirs := podDirs{root: filepath.Join(root, "p")}
	for name, vol := range map[string]v1.VolumeSource{
		"missing secret":     {Secret: &v1.SecretVolumeSource{SecretName: "nope"}},
		"missing item key":   {ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Items: []v1.KeyToPath{{Key: "x", Path: "x"}}}},
		"no docker daemon":   {HostPath: &v1.HostPathVolumeSource{Path: "/var/run/docker.sock"}},
		"hostPath type File": {HostPath: &v1.HostPathVolumeSource{Path: "/etc/absent", Type: ptr.To(v1.HostPathFile)}},
	} {
		pod := testPod()
		pod.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: vol}}
		_, _, err := h.setupVolumes(context.Background(), pod, dirs)
		if err == nil || !strings.Contains(err.Error(), `MountVolume.SetUp failed for volume "v"`) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	pod := testPod()
	pod.Spec.Volumes = []v1.Volume{{Name: "pvc", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}}}
	if _, warnings, err := h.setupVolumes(context.Background(), pod, dirs); err != nil || len(warnings) != 1 {
		t.Errorf("unsupported volume: %v %v", warnings, err)
	}
}
