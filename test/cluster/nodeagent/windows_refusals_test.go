package nodeagent

// What the bed must refuse as a real Windows cluster would, without a bed:
// fake API, real pod workers, a fake docker CLI (a shell script) and the
// emulated dockerd re-run from this test binary. The scheduler's part (the
// NoSchedule taint) needs the real kube-scheduler and is checked on the bed.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// TestMain lets a pod's container run this binary as the emulated dockerd:
// `<test binary> emulated-dockerd-helper --host=… --upstream=…`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "emulated-dockerd-helper" {
		opts, err := ParseEmulatedDockerdArgs(os.Args[2:])
		if err == nil {
			ctx, stop := signalContext()
			err = RunEmulatedDockerd(ctx, opts, os.Stderr, nil)
			stop()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestImageCatalogue(t *testing.T) {
	c, err := NewImageCatalogue("images.json", []CatalogueImage{
		{Reference: "docker:29-windowsservercore-ltsc2022", OSVersion: "10.0.20348", Path: []string{"/cli29"}},
		{Reference: "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2", HostProcess: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"docker:29-windowsservercore-ltsc2022", "docker.io/library/docker:29-windowsservercore-ltsc2022", "library/docker:29-windowsservercore-ltsc2022"} {
		if img, ok := c.lookup(ref); !ok || img.Reference != "docker.io/library/docker:29-windowsservercore-ltsc2022" {
			t.Errorf("lookup(%q) = %+v, %v", ref, img, ok)
		}
	}
	for _, ref := range []string{"docker:windowsservercore-ltsc2019", "docker:29-windowsservercore-ltsc2019", "docker", "ghcr.io/dockhand-dev/dockerd-hostprocess:29.1.0"} {
		if _, ok := c.lookup(ref); ok {
			t.Errorf("lookup(%q) found", ref)
		}
	}
	if _, err := NewImageCatalogue("f", []CatalogueImage{{Reference: "docker:29"}}); err == nil {
		t.Error("entry without osVersion or hostProcess accepted")
	}
	if _, err := NewImageCatalogue("f", []CatalogueImage{{Reference: "docker:29", OSVersion: "1"}, {Reference: "docker.io/library/docker:29", OSVersion: "1"}}); err == nil {
		t.Error("duplicate accepted")
	}
	img, _ := c.lookup("docker:29-windowsservercore-ltsc2022")
	if !osCompatible(&img, "10.0.20348", false) || osCompatible(&img, "10.0.26100", false) || !osCompatible(&img, "10.0.26100", true) {
		t.Error("process isolation rule")
	}
	hp, _ := c.lookup("ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2")
	if !osCompatible(&hp, "10.0.17763", false) {
		t.Error("hostProcess image refused")
	}
	if !strings.Contains(pullError("docker:x"), `"docker.io/library/docker:x": docker.io/library/docker:x: not found`) {
		t.Error(pullError("docker:x"))
	}
}

func TestAdmitRefusesUntoleratedNoExecute(t *testing.T) {
	node := DefaultNodes()[1]
	pod := &v1.Pod{Spec: v1.PodSpec{}}
	if _, _, ok := admit(pod, node); !ok {
		t.Error("NoSchedule taint refused by the kubelet (that is the scheduler's job)")
	}
	node.Taints = append(node.Taints, v1.Taint{Key: "k", Value: "v", Effect: v1.TaintEffectNoExecute})
	reason, msg, ok := admit(pod, node)
	if ok || reason != "TaintToleration" || msg != "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate" {
		t.Errorf("admit = %q %q %v", reason, msg, ok)
	}
	pod.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists}}
	if _, _, ok := admit(pod, node); !ok {
		t.Error("tolerated NoExecute taint refused")
	}
}

func TestParseEmulatedDockerdArgs(t *testing.T) {
	o, err := ParseEmulatedDockerdArgs([]string{"--upstream=unix:///bed/docker.sock", "--host=unix:///n/pipes/docker_engine", `--data-root=C:\ProgramData\docker`, "--log-level=info"})
	if err != nil || o.Listen != "/n/pipes/docker_engine" || o.Upstream != "/bed/docker.sock" {
		t.Errorf("%+v %v", o, err)
	}
	if _, err := ParseEmulatedDockerdArgs([]string{"--upstream=/u", "--host=npipe:////./pipe/docker_engine"}); err == nil {
		t.Error("unrewritten npipe accepted")
	}
}

// TestEmulatedDockerdProxies: HTTP answers come from the upstream, a raw
// (hijacked) stream passes both ways byte for byte, the socket goes on stop.
func TestEmulatedDockerdProxies(t *testing.T) {
	dir := shortTempDir(t)
	upstream := filepath.Join(dir, "up.sock")
	ln, err := net.Listen("unix", upstream)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				if req.URL.Path == "/version" {
					body := `{"Version":"20.10.24","ApiVersion":"1.41"}`
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
					return
				}
				// /attach: upgrade, then echo upper-cased until EOF.
				fmt.Fprint(c, "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
				b, _ := io.ReadAll(r)
				c.Write([]byte(strings.ToUpper(string(b))))
			}()
		}
	}()
	listen := filepath.Join(dir, "pipes", "docker_engine")
	os.MkdirAll(filepath.Dir(listen), 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- RunEmulatedDockerd(ctx, EmulatedDockerdOptions{Listen: listen, Upstream: upstream}, io.Discard, func() { close(ready) })
	}()
	<-ready

	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", listen)
	}}}
	resp, err := hc.Get("http://docker/version")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"Version":"20.10.24","ApiVersion":"1.41"}` {
		t.Errorf("version = %s", body)
	}

	c, err := net.Dial("unix", listen)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "POST /attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello stream")
	c.(*net.UnixConn).CloseWrite()
	all, _ := io.ReadAll(c)
	c.Close()
	if !strings.HasSuffix(string(all), "\r\n\r\nHELLO STREAM") {
		t.Errorf("hijacked stream = %q", all)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(listen); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// windowsTestKubelet is the agent of one DefaultNodes() Windows node with an
// image catalogue whose docker CLI is a script reporting where it connects.
func windowsTestKubelet(t *testing.T, nodeIndex int, dir string, objects ...*v1.Pod) (*nodeKubelet, *fake.Clientset) {
	t.Helper()
	upstream := filepath.Join(dir, "bed-docker.sock")
	cli := filepath.Join(dir, "cli29")
	os.MkdirAll(cli, 0o755)
	script := `#!/bin/sh
host="$DOCKER_HOST"
for a; do case "$a" in --host=*) host="${a#--host=}";; esac; done
sock="${host#unix://}"
[ -S "$sock" ] || { echo "Cannot connect to the Docker daemon at $host. Is the docker daemon running?" >&2; exit 1; }
echo "Client: fake 29.8.2"
echo "Server: via $sock"
`
	if err := os.WriteFile(filepath.Join(cli, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	images, err := NewImageCatalogue("test", []CatalogueImage{
		{Reference: "docker:29-windowsservercore-ltsc2022", OSVersion: "10.0.20348", Path: []string{cli}, DockerVersion: "29.8.2"},
		{Reference: "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2", HostProcess: true, Path: []string{cli},
			Entrypoint: []string{os.Args[0], "emulated-dockerd-helper", "--upstream=unix://" + upstream}},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	for _, p := range objects {
		client.Tracker().Add(p)
	}
	cfg := Config{Client: client, Dir: dir, DockerSock: upstream, Images: images}
	k, err := newNodeKubelet(cfg, layout{dir: dir}, DefaultNodes()[nodeIndex], map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	k.recorder = record.NewFakeRecorder(1000)
	return k, client
}

func windowsPod(name, node, image string, command ...string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + metav1UID(name))},
		Spec: v1.PodSpec{
			NodeName:      node,
			RestartPolicy: v1.RestartPolicyNever,
			NodeSelector:  map[string]string{v1.LabelOSStable: "windows"},
			Tolerations:   []v1.Toleration{{Key: "node.kubernetes.io/os", Value: "windows", Effect: v1.TaintEffectNoSchedule}},
			Volumes:       []v1.Volume{{Name: "engine", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: `\\.\pipe\docker_engine`}}}},
			Containers: []v1.Container{{Name: "main", Image: image, Command: command,
				Env:          []v1.EnvVar{{Name: "DOCKER_HOST", Value: "npipe:////./pipe/docker_engine"}},
				VolumeMounts: []v1.VolumeMount{{Name: "engine", MountPath: `\\.\pipe\docker_engine`}}}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

func metav1UID(s string) string { return strings.ReplaceAll(s, " ", "-") }

func dockerdPod(node string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "dockerd", Namespace: "dockhand-dockerd", UID: "uid-dockerd"},
		Spec: v1.PodSpec{
			NodeName:        node,
			RestartPolicy:   v1.RestartPolicyAlways,
			SecurityContext: &v1.PodSecurityContext{WindowsOptions: &v1.WindowsSecurityContextOptions{HostProcess: ptr.To(true)}},
			Containers: []v1.Container{{Name: "dockerd", Image: "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2",
				Args: []string{"--host=npipe:////./pipe/docker_engine", `--data-root=C:\ProgramData\docker`},
				ReadinessProbe: &v1.Probe{PeriodSeconds: 1, TimeoutSeconds: 5, ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{
					Command: []string{"docker.exe", "--host=npipe:////./pipe/docker_engine", "version"}}}}}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
}

func getPod(client *fake.Clientset, pod *v1.Pod) *v1.Pod {
	cur, _ := client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	return cur
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readLog(t *testing.T, k *nodeKubelet, pod *v1.Pod) string {
	b, _ := os.ReadFile(k.lay.pod(pod.UID).log("main"))
	return string(b)
}

// TestWindowsNodeDockerdLifecycle: (a) with the node's dockerd pod running
// (Ready by its exec probe) a docker CLI pod reaches the engine through the
// pipe; (f) once that pod is deleted the pipe is gone and the CLI cannot
// connect.
func TestWindowsNodeDockerdLifecycle(t *testing.T) {
	dir := shortTempDir(t)
	dd := dockerdPod("win-ltsc2022-0")
	cliPod := windowsPod("cli", "win-ltsc2022-0", "docker:29-windowsservercore-ltsc2022", "docker", "version")
	cliPod2 := windowsPod("cli2", "win-ltsc2022-0", "docker.io/library/docker:29-windowsservercore-ltsc2022", "docker.exe", "version")
	k, client := windowsTestKubelet(t, 1, dir, dd, cliPod, cliPod2)
	up, err := net.Listen("unix", k.cfg.DockerSock)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	pipe := k.engineSocket()
	if pipe != filepath.Join(dir, "node", "win-ltsc2022-0", "pipes", "docker_engine") {
		t.Fatalf("engine socket %s", pipe)
	}

	w, _ := runWorker(t, k, dd)
	waitFor(t, "dockerd Ready", func() bool {
		p := getPod(client, dd)
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	if st, err := os.Stat(pipe); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("pipe socket: %v", err)
	}
	if cs := getPod(client, dd).Status.ContainerStatuses[0]; cs.Image != "ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2" || !strings.HasPrefix(cs.ImageID, "ghcr.io/dockhand-dev/dockerd-hostprocess@sha256:") {
		t.Errorf("dockerd status image = %s %s", cs.Image, cs.ImageID)
	}

	runWorker(t, k, cliPod)
	done := waitPhase(t, client, cliPod, v1.PodSucceeded)
	if log := readLog(t, k, cliPod); !strings.Contains(log, "Client: fake 29.8.2") || !strings.Contains(log, "Server: via "+pipe) {
		t.Errorf("cli log = %s", log)
	}
	if cs := done.Status.ContainerStatuses[0]; cs.Image != "docker.io/library/docker:29-windowsservercore-ltsc2022" {
		t.Errorf("image = %s", cs.Image)
	}

	deleting := dd.DeepCopy()
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	deleting.DeletionGracePeriodSeconds = ptr.To[int64](30)
	w.update(deleting)
	waitFor(t, "pipe removed", func() bool { _, err := os.Stat(pipe); return os.IsNotExist(err) })

	runWorker(t, k, cliPod2)
	failed := waitPhase(t, client, cliPod2, v1.PodFailed)
	if log := readLog(t, k, cliPod2); !strings.Contains(log, "Cannot connect to the Docker daemon") {
		t.Errorf("cli2 log = %s", log)
	}
	if term := failed.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 1 {
		t.Errorf("cli2 = %+v", failed.Status.ContainerStatuses[0].State)
	}
}

// TestWindowsNodeRefusesUnknownImage: (c) ErrImagePull, then ImagePullBackOff,
// the pod staying Pending with the kubelet's events.
func TestWindowsNodeRefusesUnknownImage(t *testing.T) {
	pod := windowsPod("unknown", "win-ltsc2022-0", "docker:windowsservercore-ltsc2019", "docker", "version")
	k, client := windowsTestKubelet(t, 1, shortTempDir(t), pod)
	runWorker(t, k, pod)
	reasons := map[string]string{}
	waitFor(t, "ErrImagePull and ImagePullBackOff", func() bool {
		p := getPod(client, pod)
		if len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil {
			w := p.Status.ContainerStatuses[0].State.Waiting
			reasons[w.Reason] = w.Message
		}
		if p.Status.Phase != v1.PodPending {
			t.Fatalf("phase %s", p.Status.Phase)
		}
		return reasons["ErrImagePull"] != "" && reasons["ImagePullBackOff"] != ""
	})
	if want := `failed to resolve reference "docker.io/library/docker:windowsservercore-ltsc2019": docker.io/library/docker:windowsservercore-ltsc2019: not found`; !strings.Contains(reasons["ErrImagePull"], want) {
		t.Errorf("ErrImagePull message = %s", reasons["ErrImagePull"])
	}
	if !strings.HasPrefix(reasons["ImagePullBackOff"], `Back-off pulling image "docker:windowsservercore-ltsc2019": ErrImagePull: rpc error`) {
		t.Errorf("ImagePullBackOff message = %s", reasons["ImagePullBackOff"])
	}
	events := drainEvents(k)
	if !strings.Contains(events, `Warning Failed Failed to pull image "docker:windowsservercore-ltsc2019": rpc error: code = NotFound`) ||
		!strings.Contains(events, "Warning Failed Error: ErrImagePull") || !strings.Contains(events, "Normal BackOff Back-off pulling image") {
		t.Errorf("events:\n%s", events)
	}
}

// TestWindowsNodeRefusesOtherOSVersion: (d) an ltsc2022 image on the 2025
// node fails to start as with process isolation; HostProcess pods may.
func TestWindowsNodeRefusesOtherOSVersion(t *testing.T) {
	pod := windowsPod("mismatch", "win-ltsc2025-0", "docker:29-windowsservercore-ltsc2022", "docker", "version")
	k, client := windowsTestKubelet(t, 3, shortTempDir(t), pod)
	runWorker(t, k, pod)
	p := waitPhase(t, client, pod, v1.PodFailed)
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "StartError" || term.ExitCode != 128 ||
		!strings.Contains(term.Message, "The container operating system does not match the host operating system") {
		t.Errorf("state = %+v", p.Status.ContainerStatuses[0].State)
	}
}

func drainEvents(k *nodeKubelet) string {
	var b strings.Builder
	ch := k.recorder.(*record.FakeRecorder).Events
	for {
		select {
		case e := <-ch:
			b.WriteString(e + "\n")
		default:
			return b.String()
		}
	}
}

// shortTempDir: unix socket paths are limited to 108 bytes, t.TempDir's
// are long.
func shortTempDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "na")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
