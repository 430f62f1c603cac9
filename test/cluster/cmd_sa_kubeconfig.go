package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"dockhand.dev/test/cluster/kubeconfig"
)

func init() {
	register("sa-kubeconfig", "write a kubeconfig that authenticates as a ServiceAccount (TokenRequest API)", runSAKubeconfig)
}

func runSAKubeconfig(args []string) error {
	fs := flag.NewFlagSet("sa-kubeconfig", flag.ExitOnError)
	adminPath := fs.String("kubeconfig", "", "kubeconfig allowed to create tokens (the bed's admin.kubeconfig), required")
	namespace := fs.String("namespace", "", "ServiceAccount namespace, required")
	name := fs.String("name", "", "ServiceAccount name, required")
	out := fs.String("out", "", "kubeconfig file to write, required")
	duration := fs.Duration("duration", 24*time.Hour, "token lifetime (the apiserver may shorten it; minimum 10m)")
	create := fs.Bool("create", false, "create the namespace and ServiceAccount if missing")
	_ = fs.Parse(args)
	if *adminPath == "" || *namespace == "" || *name == "" || *out == "" {
		return errors.New("--kubeconfig, --namespace, --name and --out are required")
	}

	cfg, err := kubeconfig.Load(*adminPath)
	if err != nil {
		return err
	}
	caPEM, err := kubeconfig.CAPEM(cfg)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if *create {
		if err := ensureServiceAccount(ctx, client, *namespace, *name); err != nil {
			return err
		}
	}
	token, err := requestToken(ctx, client, *namespace, *name, *duration)
	if err != nil {
		return err
	}
	return kubeconfig.Write(*out, kubeconfig.File{
		Server:    cfg.Host,
		CAPEM:     caPEM,
		User:      kubeconfig.Credentials{Token: token},
		Namespace: *namespace,
	})
}

// requestToken mints a bound token like the kubelet does for projected
// volumes, instead of reading a legacy token Secret: Kubernetes no longer
// creates those (LegacyServiceAccountTokenNoAutoGeneration).
func requestToken(ctx context.Context, client kubernetes.Interface, namespace, name string, duration time.Duration) (string, error) {
	seconds := int64(duration / time.Second)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}
	resp, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("serviceaccount %s/%s does not exist: apply the manifests that define it, or pass --create", namespace, name)
	}
	if err != nil {
		return "", fmt.Errorf("requesting a token for serviceaccount %s/%s: %w", namespace, name, err)
	}
	if got := time.Until(resp.Status.ExpirationTimestamp.Time); got < duration-time.Minute {
		fmt.Fprintf(os.Stderr, "sa-kubeconfig: warning: token for %s/%s expires in %s, not %s as requested\n", namespace, name, got.Round(time.Second), duration)
	}
	return resp.Status.Token, nil
}

func ensureServiceAccount(ctx context.Context, client kubernetes.Interface, namespace, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating serviceaccount %s/%s: %w", namespace, name, err)
	}
	return nil
}
