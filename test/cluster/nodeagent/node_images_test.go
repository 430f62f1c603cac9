package nodeagent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEnsureImagePullsOnceThenIsPresent(t *testing.T) {
	k, _ := windowsTestKubelet(t, 1, shortTempDir(t))
	img, _ := k.cfg.Images.lookup("docker:29-windowsservercore-ltsc2022")
	c := &v1.Container{Name: "main", Image: "docker:29-windowsservercore-ltsc2022", ImagePullPolicy: v1.PullIfNotPresent}
	size := emulatedImageSize(img)

	first := k.ensureImage(c, img)
	want := [][2]string{
		{"Pulling", `Pulling image "docker:29-windowsservercore-ltsc2022"`},
		{"Pulled", fmt.Sprintf(`Successfully pulled image "docker:29-windowsservercore-ltsc2022" in 0s (0s including waiting). Image size: %d bytes.`, size)},
	}
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Errorf("first start: %q, want %q", first, want)
	}
	present := [][2]string{{"Pulled", `Container image "docker:29-windowsservercore-ltsc2022" already present on machine`}}
	if got := k.ensureImage(c, img); fmt.Sprint(got) != fmt.Sprint(present) {
		t.Errorf("second start: %q, want %q", got, present)
	}
	always := *c
	always.ImagePullPolicy = v1.PullAlways
	if got := k.ensureImage(&always, img); len(got) != 2 || got[0][0] != "Pulling" {
		t.Errorf("imagePullPolicy Always pulls every time: %q", got)
	}
	// crictl rmi, emulated: the file goes, the next start pulls again.
	if err := os.Remove(heldImageFile(k.imagesDir(), img.Reference)); err != nil {
		t.Fatal(err)
	}
	if got := k.ensureImage(c, img); len(got) != 2 || got[0][0] != "Pulling" {
		t.Errorf("after removal: %q", got)
	}
}

func TestStatusImagesAsTheKubeletListsThem(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := 0; i < nodeStatusMaxImages+3; i++ {
		ref := fmt.Sprintf("docker.io/library/img:%02d", i)
		h := heldImage{Reference: ref, ImageID: fmt.Sprintf("docker.io/library/img@sha256:%064d", i), SizeBytes: int64(1000 + i)}
		if err := writeHeldImage(dir, heldImageFile(dir, ref), h); err != nil {
			t.Fatal(err)
		}
		want = append([]string{ref}, want...) // largest (the last written) first
	}
	got := statusImages(dir)
	if len(got) != nodeStatusMaxImages {
		t.Fatalf("%d images listed, want the kubelet's cut at %d", len(got), nodeStatusMaxImages)
	}
	for i, img := range got {
		if img.Names[1] != want[i] || !strings.HasPrefix(img.Names[0], "docker.io/library/img@sha256:") {
			t.Fatalf("images[%d] = %v, want the digest then %s", i, img.Names, want[i])
		}
	}
	if got[0].SizeBytes != 1000+nodeStatusMaxImages+2 {
		t.Errorf("largest first: %d", got[0].SizeBytes)
	}
}

func TestEmulatedImageSizes(t *testing.T) {
	for _, tc := range []struct {
		ref      string
		min, max int64
	}{
		{"docker.io/library/docker:29-windowsservercore-ltsc2022", 5_000_000_000, 5_400_000_000},
		{"registry.k8s.io/pause:3.10.2", 100_000_000, 110_000_000},
		{"ghcr.io/dockhand-dev/dockerd-hostprocess:29.8.2", 150_000_000, 250_000_000},
	} {
		if s := emulatedImageSize(CatalogueImage{Reference: tc.ref}); s < tc.min || s >= tc.max {
			t.Errorf("%s: %d, want [%d, %d)", tc.ref, s, tc.min, tc.max)
		}
	}
}

// A pod's container "pulls" its image on a node that lacks it, the node's
// status lists it (names and size), and it stays after the pod is deleted:
// the next pod finds it already present.
func TestWindowsNodeReportsPulledImagesAndKeepsThem(t *testing.T) {
	dir := shortTempDir(t)
	first := windowsPod("first", "win-ltsc2022-0", "docker:29-windowsservercore-ltsc2022", "cmd", "/c", "echo ok")
	first.Spec.Volumes, first.Spec.Containers[0].VolumeMounts = nil, nil
	first.Spec.Containers[0].ImagePullPolicy = v1.PullIfNotPresent
	k, client := windowsTestKubelet(t, 1, dir, first)
	if _, err := client.CoreV1().Nodes().Create(context.Background(), k.spec.node("v1.37.2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k.syncNodeStatus(context.Background()); err != nil {
		t.Fatal(err)
	}
	if imgs := nodeImages(t, k); len(imgs) != 0 {
		t.Fatalf("a fresh node lists %v", imgs)
	}

	w, _ := runWorker(t, k, first)
	waitPhase(t, client, first, v1.PodSucceeded)
	if ev := drainEvents(k); !strings.Contains(ev, `Normal Pulling Pulling image "docker:29-windowsservercore-ltsc2022"`) ||
		!strings.Contains(ev, `Normal Pulled Successfully pulled image "docker:29-windowsservercore-ltsc2022"`) {
		t.Errorf("events of the first pod:\n%s", ev)
	}
	if err := k.syncNodeStatus(context.Background()); err != nil {
		t.Fatal(err)
	}
	img, _ := k.cfg.Images.lookup("docker:29-windowsservercore-ltsc2022")
	want := []string{catalogueImageID(img), "docker.io/library/docker:29-windowsservercore-ltsc2022"}
	imgs := nodeImages(t, k)
	if len(imgs) != 1 || fmt.Sprint(imgs[0].Names) != fmt.Sprint(want) || imgs[0].SizeBytes < 5_000_000_000 {
		t.Fatalf("status.images = %+v, want one image named %v of a Server Core size", imgs, want)
	}
	_ = w

	second := windowsPod("second", "win-ltsc2022-0", "docker:29-windowsservercore-ltsc2022", "cmd", "/c", "echo ok")
	second.Spec.Volumes, second.Spec.Containers[0].VolumeMounts = nil, nil
	second.Spec.Containers[0].ImagePullPolicy = v1.PullIfNotPresent
	client.Tracker().Add(second)
	runWorker(t, k, second)
	waitPhase(t, client, second, v1.PodSucceeded)
	if ev := drainEvents(k); !strings.Contains(ev, `Normal Pulled Container image "docker:29-windowsservercore-ltsc2022" already present on machine`) || strings.Contains(ev, "Pulling") {
		t.Errorf("events of the second pod:\n%s", ev)
	}

	// A new agent over the same --dir (the node rebooted): the image is still there.
	k2, _ := windowsTestKubelet(t, 1, dir)
	if imgs := statusImages(k2.imagesDir()); len(imgs) != 1 {
		t.Errorf("after an agent restart: %+v", imgs)
	}
}

func nodeImages(t *testing.T, k *nodeKubelet) []v1.ContainerImage {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := k.client.CoreV1().Nodes().Get(context.Background(), k.spec.Name, metav1.GetOptions{})
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			return n.Status.Images
		}
		time.Sleep(50 * time.Millisecond)
	}
}
