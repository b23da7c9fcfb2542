package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/corral-dev/corral/errdefs"
	cimage "github.com/corral-dev/corral/image"
)

func TestInheritHealth(t *testing.T) {
	img := &cimage.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: time.Second, Retries: 5}
	tests := []struct {
		req  *container.HealthConfig
		img  *cimage.HealthConfig
		want *container.HealthConfig
	}{
		{nil, nil, nil},
		{&container.HealthConfig{Test: []string{"CMD", "x"}}, nil, &container.HealthConfig{Test: []string{"CMD", "x"}}},
		{nil, img, &container.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Timeout: time.Second, Retries: 5}},
		// --health-interval alone changes only the image's interval.
		{&container.HealthConfig{Interval: time.Second}, img,
			&container.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Second, Timeout: time.Second, Retries: 5}},
		{&container.HealthConfig{Test: []string{"CMD-SHELL", "mine"}, StartPeriod: time.Hour}, img,
			&container.HealthConfig{Test: []string{"CMD-SHELL", "mine"}, Interval: time.Minute, Timeout: time.Second,
				StartPeriod: time.Hour, Retries: 5}},
		// --no-healthcheck
		{&container.HealthConfig{Test: []string{"NONE"}}, img,
			&container.HealthConfig{Test: []string{"NONE"}, Interval: time.Minute, Timeout: time.Second, Retries: 5}},
	}
	for i, tt := range tests {
		got := inheritHealth(tt.req, tt.img)
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
			t.Errorf("%d: inheritHealth = %+v, want %+v", i, got, tt.want)
		}
	}
	if img.Interval != time.Minute {
		t.Error("inheritHealth changed the image's check")
	}
}

func TestValidateHealth(t *testing.T) {
	ok := &container.Config{Healthcheck: &container.HealthConfig{Test: []string{"CMD", "true"}},
		Labels: map[string]string{"io.corral.health-on-failure": "restart"}}
	if err := validateHealth(ok); err != nil {
		t.Errorf("valid: %v", err)
	}
	for _, c := range []*container.Config{
		{Healthcheck: &container.HealthConfig{Retries: -1}},
		{Labels: map[string]string{"io.corral.health-on-failure": "bogus"}},
	} {
		if err := validateHealth(c); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%+v: %v, want an InvalidArgument", c, err)
		}
	}
}
