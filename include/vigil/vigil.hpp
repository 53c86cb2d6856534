// vigil — in-process monitoring of machine-learning models in C++ inference servers.
// Version 0.1.0. SPDX-License-Identifier: Apache-2.0
//
// Umbrella header: everything that needs only the standard library. Headers that need
// Eigen (vigil/model/) or fmt (vigil/export/) are included on their own.
#pragma once

#include "vigil/config.hpp"
#include "vigil/error.hpp"
#include "vigil/io/binary.hpp"
#include "vigil/monitor/alerts.hpp"
#include "vigil/monitor/monitor.hpp"
#include "vigil/monitor/observation.hpp"
#include "vigil/monitor/profile.hpp"
#include "vigil/monitor/report.hpp"
#include "vigil/monitor/schema.hpp"
#include "vigil/sketch/category_counts.hpp"
#include "vigil/sketch/log_histogram.hpp"
#include "vigil/sketch/rolling.hpp"
#include "vigil/sketch/tdigest.hpp"
#include "vigil/sketch/time_windows.hpp"
#include "vigil/stats/change_detectors.hpp"
#include "vigil/stats/distances.hpp"
#include "vigil/stats/goodness_of_fit.hpp"
#include "vigil/stats/ks_test.hpp"
#include "vigil/stats/multiple_testing.hpp"
#include "vigil/stats/sketch_comparisons.hpp"
#include "vigil/stats/special_functions.hpp"
#include "vigil/stats/test_result.hpp"
