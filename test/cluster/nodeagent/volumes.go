package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/fieldpath"
)

// volumeHost materializes pod volumes as local directories. There is no
// mount namespace: a container "mounts" a volume by having its paths
// rewritten to the directory (see pathRewriter).
type volumeHost struct {
	client       kubernetes.Interface // for TokenRequest
	objects      objectSource
	dockerSock   string
	windows      bool   // a Windows node: named pipes live in pipesDir
	pipesDir     string // the node's \\.\pipe\ namespace (layout.pipesDir)
	hostPathRoot string
	envCtx       envContext
}

// volumeMounts is, per pod volume, the local path that mounts of it map to.
type volumeMounts map[string]string

const defaultVolumeFileMode = 0o644

// setupVolumes prepares every volume of pod; it is safe to call again after a
// failure. Warnings name volumes the agent could only approximate.
func (h *volumeHost) setupVolumes(ctx context.Context, pod *v1.Pod, dirs podDirs) (volumeMounts, []string, error) {
	mounts := volumeMounts{}
	var warnings []string
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		local := dirs.volume(vol.Name)
		var err error
		switch {
		case vol.HostPath != nil:
			local, err = h.setupHostPath(vol.HostPath, local)
		case vol.EmptyDir != nil:
			err = os.MkdirAll(local, 0o777)
		case vol.Secret != nil:
			err = h.writeFiles(local, func() ([]volumeFile, error) { return h.secretFiles(ctx, pod, vol.Secret) })
		case vol.ConfigMap != nil:
			err = h.writeFiles(local, func() ([]volumeFile, error) { return h.configMapFiles(ctx, pod, vol.ConfigMap) })
		case vol.DownwardAPI != nil:
			err = h.writeFiles(local, func() ([]volumeFile, error) {
				return h.downwardAPIFiles(pod, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode)
			})
		case vol.Projected != nil:
			err = h.writeFiles(local, func() ([]volumeFile, error) { return h.projectedFiles(ctx, pod, vol.Projected) })
		default:
			warnings = append(warnings, fmt.Sprintf("volume %q is of a kind the test bed node agent does not implement; it is an empty directory", vol.Name))
			err = os.MkdirAll(local, 0o777)
		}
		if err != nil {
			return nil, warnings, fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", vol.Name, err)
		}
		mounts[vol.Name] = local
	}
	return mounts, warnings, nil
}

// isDockerDaemonSocket reports the hostPaths through which pods reach the
// node's Docker engine.
func isDockerDaemonSocket(path string) bool {
	switch path {
	case "/var/run/docker.sock", "/run/docker.sock":
		return true
	}
	return isDockerEngineNamedPipe(path)
}

// setupHostPath maps the Docker socket (or Windows engine pipe) to the bed's
// dockerd and every other hostPath to a per-node directory, so pods on one
// node share it as on a real node without touching this machine's own
// files. The pod's volume dir is a symlink to it for inspection.
func (h *volumeHost) setupHostPath(hp *v1.HostPathVolumeSource, local string) (string, error) {
	var target string
	if pipe, ok := namedPipeName(hp.Path); ok && h.windows {
		// A named pipe on a Windows node: whatever serves it (the node's
		// dockerd) may not be running; as on Windows, mounting it does not
		// wait for it, connecting fails while nobody listens.
		if err := os.MkdirAll(h.pipesDir, 0o755); err != nil {
			return "", err
		}
		target = filepath.Join(h.pipesDir, pipe)
	} else if isDockerDaemonSocket(hp.Path) && !h.windows {
		if _, err := os.Stat(h.dockerSock); err != nil {
			return "", fmt.Errorf("hostPath %s maps to the bed dockerd socket %s: %w", hp.Path, h.dockerSock, err)
		}
		target = h.dockerSock
	} else {
		target = underRoot(h.hostPathRoot, hp.Path)
		hpType := v1.HostPathUnset
		if hp.Type != nil {
			hpType = *hp.Type
		}
		switch hpType {
		case v1.HostPathFile, v1.HostPathFileOrCreate, v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return "", err
			}
			if hpType == v1.HostPathFileOrCreate {
				f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644)
				if err != nil {
					return "", err
				}
				f.Close()
			} else if _, err := os.Stat(target); err != nil {
				return "", fmt.Errorf("hostPath type check failed: %s is not a %s (emulated under %s)", hp.Path, hpType, h.hostPathRoot)
			}
		default:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return "", err
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o750); err != nil {
		return "", err
	}
	_ = os.Remove(local)
	if err := os.Symlink(target, local); err != nil {
		return "", err
	}
	return target, nil
}

// volumeFile is one file of a secret/configMap/downwardAPI/projected volume.
type volumeFile struct {
	path string // relative, from items[].path or the key
	data []byte
	mode int32
}

// writeFiles replaces the volume's contents with the files collect returns.
// The kubelet's atomic writer (..data symlink swaps) is not reproduced: the
// files are written once when the pod starts and not refreshed.
func (h *volumeHost) writeFiles(dir string, collect func() ([]volumeFile, error)) error {
	files, err := collect()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Clean("/"+f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, os.FileMode(f.mode)); err != nil {
			return err
		}
		if err := os.Chmod(p, os.FileMode(f.mode)); err != nil {
			return err
		}
	}
	return nil
}

func modeOr(mode *int32, def *int32) int32 {
	if mode != nil {
		return *mode
	}
	if def != nil {
		return *def
	}
	return defaultVolumeFileMode
}

// keyFiles projects data keys to files, honouring items as the kubelet's
// secret and configMap volume plugins do.
func keyFiles(data map[string][]byte, items []v1.KeyToPath, defaultMode *int32, optional bool, missingKey string) ([]volumeFile, error) {
	if len(items) == 0 {
		files := make([]volumeFile, 0, len(data))
		for _, k := range sortedKeys(data) {
			files = append(files, volumeFile{path: k, data: data[k], mode: modeOr(nil, defaultMode)})
		}
		return files, nil
	}
	var files []volumeFile
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s: %s", missingKey, it.Key)
		}
		files = append(files, volumeFile{path: it.Path, data: v, mode: modeOr(it.Mode, defaultMode)})
	}
	return files, nil
}

func (h *volumeHost) secretFiles(ctx context.Context, pod *v1.Pod, src *v1.SecretVolumeSource) ([]volumeFile, error) {
	return h.secretProjection(ctx, pod, src.SecretName, src.Items, src.DefaultMode, src.Optional)
}

func (h *volumeHost) secretProjection(ctx context.Context, pod *v1.Pod, name string, items []v1.KeyToPath, defaultMode *int32, optional *bool) ([]volumeFile, error) {
	opt := optional != nil && *optional
	s, err := h.objects.Secret(ctx, pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && opt {
			return nil, nil
		}
		return nil, err
	}
	return keyFiles(s.Data, items, defaultMode, opt, "references non-existent secret key")
}

func (h *volumeHost) configMapFiles(ctx context.Context, pod *v1.Pod, src *v1.ConfigMapVolumeSource) ([]volumeFile, error) {
	return h.configMapProjection(ctx, pod, src.Name, src.Items, src.DefaultMode, src.Optional)
}

func (h *volumeHost) configMapProjection(ctx context.Context, pod *v1.Pod, name string, items []v1.KeyToPath, defaultMode *int32, optional *bool) ([]volumeFile, error) {
	opt := optional != nil && *optional
	cm, err := h.objects.ConfigMap(ctx, pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && opt {
			return nil, nil
		}
		return nil, err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles(data, items, defaultMode, opt, "configmap references non-existent config key")
}

func (h *volumeHost) downwardAPIFiles(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, defaultMode *int32) ([]volumeFile, error) {
	var files []volumeFile
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = downwardFieldValue(pod, it.FieldRef.FieldPath, h.envCtx)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downwardAPI %s: container %q not found", it.Path, it.ResourceFieldRef.ContainerName)
			}
			value, err = containerResourceValue(pod, c, it.ResourceFieldRef, h.envCtx.nodeAllocatable)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, volumeFile{path: it.Path, data: []byte(value), mode: modeOr(it.Mode, defaultMode)})
	}
	return files, nil
}

// downwardFieldValue formats label and annotation maps as the downward API
// volume plugin does (one key="value" per line).
func downwardFieldValue(pod *v1.Pod, path string, ec envContext) (string, error) {
	switch path {
	case "metadata.labels":
		return fieldpath.FormatMap(pod.Labels), nil
	case "metadata.annotations":
		return fieldpath.FormatMap(pod.Annotations), nil
	}
	return podFieldValue(pod, path, ec)
}

func (h *volumeHost) projectedFiles(ctx context.Context, pod *v1.Pod, src *v1.ProjectedVolumeSource) ([]volumeFile, error) {
	var files []volumeFile
	for _, s := range src.Sources {
		var more []volumeFile
		var err error
		switch {
		case s.Secret != nil:
			more, err = h.secretProjection(ctx, pod, s.Secret.Name, s.Secret.Items, src.DefaultMode, s.Secret.Optional)
		case s.ConfigMap != nil:
			more, err = h.configMapProjection(ctx, pod, s.ConfigMap.Name, s.ConfigMap.Items, src.DefaultMode, s.ConfigMap.Optional)
		case s.DownwardAPI != nil:
			more, err = h.downwardAPIFiles(pod, s.DownwardAPI.Items, src.DefaultMode)
		case s.ServiceAccountToken != nil:
			more, err = h.serviceAccountToken(ctx, pod, s.ServiceAccountToken, src.DefaultMode)
		default:
			err = fmt.Errorf("projected source kind not implemented by the test bed node agent (clusterTrustBundle, podCertificate)")
		}
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	return files, nil
}

// serviceAccountToken requests a token bound to the pod, as the kubelet's
// token manager does; it is not refreshed (bed builds are short).
func (h *volumeHost) serviceAccountToken(ctx context.Context, pod *v1.Pod, src *v1.ServiceAccountTokenProjection, defaultMode *int32) ([]volumeFile, error) {
	var audiences []string
	if src.Audience != "" {
		audiences = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := h.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: src.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to fetch token: %w", err)
	}
	return []volumeFile{{path: src.Path, data: []byte(tr.Status.Token), mode: modeOr(nil, defaultMode)}}, nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for _, list := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// containerMappings lists, for one container, each mountPath with the local
// path it stands for, plus the termination message path.
func containerMappings(c *v1.Container, mounts volumeMounts, env []v1.EnvVar, terminationLog string) ([]pathMapping, error) {
	var out []pathMapping
	for _, vm := range c.VolumeMounts {
		local, ok := mounts[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q names no volume of the pod", vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandWithEnv(vm.SubPathExpr, env)
		}
		if sub != "" {
			local = filepath.Join(local, filepath.Clean("/"+strings.ReplaceAll(sub, `\`, "/")))
			if fi, err := os.Stat(local); err != nil || fi.IsDir() {
				// The kubelet creates a missing subPath as a directory.
				if err := os.MkdirAll(local, 0o777); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, pathMapping{containerPath: vm.MountPath, localPath: local})
	}
	out = append(out, pathMapping{containerPath: terminationMessagePath(c), localPath: terminationLog})
	return out, nil
}
