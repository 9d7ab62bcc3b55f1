# Reference values for every tau² estimator of metafor's rma.uni with moderators: the table of
# estimators in src/metareview/pooling/tau2.py has one implementation per estimator for any design
# matrix, and meta-regression accepts each of them.
#
# Run from the repository root:
#     Rscript tests/r/make_reference_estimators.R
#
# Writes tests/fixtures/analyses/metareg_estimators.json: dat.bcg log risk ratios with the
# moderators ablat and alloc, the estimators DL, PM, REML, ML, HS, SJ, HE, EB, PMM, HSk, DLIT,
# SJIT and GENQ (weights = total sample size), tests z and knha, main effects, a factor (the common
# tau² of subgroups), and a model without intercept whose design does not span the intercept
# (metafor estimates tau² from mean-centred outcomes; there DLIT does not converge in metafor and is
# left out, as every call that stops with an error). Numbers with toJSON(digits = NA) (15
# significant digits); NA and non-finite are null. Each case keeps the R call that made it.
#
# GENQ: metafor's rma(..., weights = n, method = "GENQ") also weights the coefficients by the user
# weights; metareview uses them for tau² only and fits the coefficients with 1/(v + tau²), so the
# case's coefficients, tests and heterogeneity come from rma(..., tau2 = <GENQ tau²>) (iv_call);
# tau² and R² (from the intercept-only GENQ fit with the same weights) from the weighted fit.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

OUT <- file.path("tests", "fixtures", "analyses", "metareg_estimators.json")
CTL <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)
CTL_TEXT <- "list(threshold = 1e-12, maxiter = 10000, tol = 1e-12, tau2.max = 1e6)"

arr <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA_real_; I(x) }
num <- function(x) { if (is.null(x) || length(x) == 0) return(NA_real_); x <- as.numeric(x)[1]
                     if (!is.finite(x)) NA_real_ else x }

bcg <- dat.bcg
es <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
dat <- data.frame(yi = as.numeric(es$yi), vi = as.numeric(es$vi), ablat = bcg$ablat, alloc = bcg$alloc,
                  n = bcg$tpos + bcg$tneg + bcg$cpos + bcg$cneg)

formulas <- list("~ ablat", "~ ablat + factor(alloc)", "~ factor(alloc)", "~ ablat - 1")
methods <- c("DL", "PM", "REML", "ML", "HS", "SJ", "HE", "EB", "PMM", "HSk", "DLIT", "SJIT", "GENQ")

cases <- list()
for (fm in formulas) {
  for (method in methods) {
    for (test in c("z", "knha")) {
      w <- if (method == "GENQ") ", weights = n" else ""
      call <- sprintf('rma(yi, vi, mods = %s, data = dat%s, method = "%s", test = "%s", control = %s)',
                      fm, w, method, test, CTL_TEXT)
      f <- tryCatch(eval(parse(text = call)), error = function(e) e)
      if (inherits(f, "error")) {  # left out: metafor gives no value to compare with
        cat(sprintf("no reference for %s %s %s: %s\n", fm, method, test, conditionMessage(f)))
        next
      }
      case <- list(case = paste(fm, method, test), formula = fm, method = method, test = test, r_call = call,
                   tau2 = num(f$tau2), r2 = num(f$R2), k = f$k, p = f$p)
      g <- f
      if (method == "GENQ") {
        case$iv_call <- sprintf('rma(yi, vi, mods = %s, data = dat, tau2 = %.17g, test = "%s", control = %s)',
                                fm, f$tau2, test, CTL_TEXT)
        g <- eval(parse(text = case$iv_call))
      }
      case$coefficients <- list(names = I(rownames(g$beta)), estimate = arr(g$beta), se = arr(g$se),
                                statistic = arr(g$zval), p = arr(g$pval), ci_low = arr(g$ci.lb),
                                ci_high = arr(g$ci.ub))
      case$qm <- num(g$QM)
      case$qm_p <- num(g$QMp)
      case$qe <- num(g$QE)
      case$qe_p <- num(g$QEp)
      case$i2 <- num(g$I2)
      case$h2 <- num(g$H2)
      cases[[length(cases) + 1]] <- case
    }
  }
}

obj <- list(analysis = "metareg_estimators",
            description = "rma(mods = ...) on dat.bcg log risk ratios with every tau² estimator, z and knha",
            r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
            jsonlite_version = as.character(packageVersion("jsonlite")), rma_control = CTL,
            data = list(study = I(paste(bcg$author, bcg$year)), yi = arr(dat$yi), vi = arr(dat$vi),
                        covariates = list(ablat = arr(dat$ablat), alloc = I(dat$alloc)), n = arr(dat$n)),
            cases = cases)
writeLines(toJSON(obj, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), OUT)
cat(sprintf("wrote %s (%d cases)\n", OUT, length(cases)))
