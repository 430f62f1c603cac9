package nodeagent

import (
	"context"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

type fakeObjects struct {
	secrets    map[string]*v1.Secret
	configMaps map[string]*v1.ConfigMap
}

func (f fakeObjects) Secret(_ context.Context, _, name string) (*v1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f fakeObjects) ConfigMap(_ context.Context, _, name string) (*v1.ConfigMap, error) {
	if c, ok := f.configMaps[name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func testObjects() fakeObjects {
	return fakeObjects{
		secrets: map[string]*v1.Secret{
			"reg": {Data: map[string][]byte{"user": []byte("u"), "pass": []byte("p")}},
		},
		configMaps: map[string]*v1.ConfigMap{
			"cfg": {Data: map[string]string{"REGISTRY": "127.0.0.1:15000", "TAG": "1"}},
		},
	}
}

func testPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "build-x", Namespace: "ci", UID: "u-1", Labels: map[string]string{"app": "b"}},
		Spec:       v1.PodSpec{NodeName: "win-ltsc2022-0", ServiceAccountName: "builder"},
	}
}

func testEnvContext() envContext {
	return envContext{
		hostIPs: []string{hostIP}, podIPs: []string{podIP}, nodeAllocatable: nodeCapacity(),
		serviceEnv: map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "16443"},
	}
}

func envMap(env []v1.EnvVar) map[string]string {
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	return m
}

func TestResolveEnv(t *testing.T) {
	c := &v1.Container{
		Name: "build",
		EnvFrom: []v1.EnvFromSource{
			{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}},
			{Prefix: "REG_", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "reg"}}},
			{SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "absent"}, Optional: ptr.To(true)}},
		},
		Env: []v1.EnvVar{
			{Name: "IMAGE", Value: "$(REGISTRY)/x:$(TAG)"},
			{Name: "ESCAPED", Value: "$$(REGISTRY)"},
			{Name: "UNDEFINED", Value: "$(NOPE)"},
			{Name: "API", Value: "$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
			{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "APP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "SA", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.serviceAccountName"}}},
			{Name: "HOST_IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "POD_IPS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
			{Name: "PASS", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "reg"}, Key: "pass"}}},
			{Name: "TAG2", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "TAG"}}},
			{Name: "OPT", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "none", Optional: ptr.To(true)}}},
			{Name: "MEM", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Gi")}}},
			{Name: "KUBERNETES_SERVICE_PORT", Value: "443"},
		},
	}
	env, err := resolveEnv(context.Background(), testPod(), c, testObjects(), testEnvContext())
	if err != nil {
		t.Fatal(err)
	}
	got := envMap(env)
	want := map[string]string{
		"REGISTRY": "127.0.0.1:15000", "TAG": "1", "REG_user": "u", "REG_pass": "p",
		"IMAGE": "127.0.0.1:15000/x:1", "ESCAPED": "$(REGISTRY)", "UNDEFINED": "$(NOPE)",
		"API": "127.0.0.1:16443", "POD": "build-x", "NS": "ci", "APP": "b", "NODE": "win-ltsc2022-0", "SA": "builder",
		"HOST_IP": "127.0.0.1", "POD_IPS": "127.0.0.1", "PASS": "p", "TAG2": "1", "MEM": "16",
		"KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env =\n%v\nwant\n%v", got, want)
	}
	// envFrom keys come first, in a stable order.
	if env[0].Name != "REGISTRY" || env[1].Name != "TAG" {
		t.Errorf("order: %v", env[:2])
	}

	cmd, args := expandCommand(&v1.Container{Command: []string{"docker", "push"}, Args: []string{"$(IMAGE)", "$$(IMAGE)"}}, env)
	if !reflect.DeepEqual(cmd, []string{"docker", "push"}) || !reflect.DeepEqual(args, []string{"127.0.0.1:15000/x:1", "$(IMAGE)"}) {
		t.Errorf("expandCommand = %q %q", cmd, args)
	}
}

func TestResolveEnvErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		env  v1.EnvVar
		from []v1.EnvFromSource
		want string
	}{
		"missing secret": {
			env:  v1.EnvVar{Name: "X", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k"}}},
			want: `secrets "nope" not found`,
		},
		"missing secret key": {
			env:  v1.EnvVar{Name: "X", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "reg"}, Key: "k"}}},
			want: "couldn't find key k in Secret ci/reg",
		},
		"missing configmap key": {
			env:  v1.EnvVar{Name: "X", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "k"}}},
			want: "couldn't find key k in ConfigMap ci/cfg",
		},
		"missing envFrom configmap": {
			from: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}},
			want: `configmaps "nope" not found`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := &v1.Container{Name: "c", EnvFrom: tc.from}
			if tc.env.Name != "" {
				c.Env = []v1.EnvVar{tc.env}
			}
			_, err := resolveEnv(context.Background(), testPod(), c, testObjects(), testEnvContext())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
